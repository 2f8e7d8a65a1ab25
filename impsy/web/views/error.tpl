% rebase('layout', title=title)
<h1>{{title}}</h1>
<p class="message error" role="alert">{{message}}</p>
<p><a href="/" data-back>Go back</a> or <a href="/">open the dashboard</a>.</p>

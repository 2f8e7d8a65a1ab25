% rebase('layout', title=title)
<h1>{{title}}</h1>
<p class="message error" role="alert">{{message}}</p>
% if signed_in:
<p><a href="/" data-back>Go back</a> or <a href="/">open the dashboard</a>.</p>
% else:
<p><a href="/login">Log in</a> to use IMPSY's pages.</p>
% end

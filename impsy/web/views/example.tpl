% rebase('layout', title=name)
<h1>{{name}}</h1>
<p class="actions"><a class="button primary" href="/config?example={{quote(name)}}">Open in the editor</a> <a class="button" href="/config/examples">All examples</a></p>
% if problems:
<ul class="problems-inline">
% for p in problems:
  <li class="{{'error' if p.is_error else 'warning'}}">{{p.text}}</li>
% end
</ul>
% end
<pre class="code">{{text}}</pre>

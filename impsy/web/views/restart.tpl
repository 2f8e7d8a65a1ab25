% rebase('layout', title='Restart')
<h1>Restart IMPSY</h1>
<p class="lead"><code>impsy run</code> reads config.toml and loads its model when it starts: restart it to use a new
config or model. The performance stops for a few seconds.</p>
<section class="card">
% if command:
  <form method="post" action="/restart">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button class="primary" {{'disabled' if locked else ''}} data-confirm="Restart IMPSY now? It stops playing for a few seconds.">Restart IMPSY</button>
  </form>
  <p class="hint">Runs <code>{{command_text}}</code>.</p>
% else:
  <h2>Restart it by hand</h2>
  <p>This web UI was not started by systemd, so it cannot restart <code>impsy run</code> itself. In the terminal where
  IMPSY runs, press <kbd>Ctrl</kbd>+<kbd>C</kbd>, then start it again:</p>
  <pre class="code">impsy run --config {{workdir}}/config.toml</pre>
  <p class="hint">On an IMPSY Pi: <code>sudo systemctl restart impsy-run.service</code>. To give this page a
  button, start the web UI with <code>--restart-command "COMMAND"</code>.</p>
% end
</section>

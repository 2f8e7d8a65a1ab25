% rebase('layout', title='Log in')
<h1>Log in</h1>
<form method="post" action="/login" class="card narrow">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="next" value="{{next}}">
  <label>Password <input type="password" name="password" autocomplete="current-password" autofocus required></label>
  <button class="primary">Log in</button>
  % if on_instrument:
  <p class="hint">The password was set with <code>impsy webui --set-password</code> on the instrument.
  Forgotten it? Log in over SSH (<code>ssh musician@impsypi.local</code>) and run <code>{{clear_command}}</code>.</p>
  % else:
  <p class="hint">The password was set with <code>impsy webui --set-password</code>.
  Forgotten it? On the computer running this web UI, in its working folder (where its <code>config.toml</code> is), run <code>{{clear_command}}</code>.</p>
  % end
</form>

% rebase('layout', title='Log in')
<h1>Log in</h1>
<form method="post" action="/login" class="card narrow">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="next" value="{{next}}">
  <label>Password <input type="password" name="password" autocomplete="current-password" autofocus required></label>
  <button class="primary">Log in</button>
  <p class="hint">The password was set with <code>impsy webui --set-password</code> on the instrument.
  Forgotten it? Run <code>impsy webui --clear-password --workdir /srv/impsy</code> over SSH.</p>
</form>

% rebase('layout', title='Configuration')
% ro = 'disabled' if locked else ''
<h1>Configuration</h1>
<p class="lead">This is <code>config.toml</code>, the file <code>impsy run</code> starts with. Every key is explained in the
configuration guide (<code>docs/configuration.md</code>). Saving checks the file first, with the same checker as
<code>impsy check-config</code>: nothing invalid is saved.</p>
<p class="actions">
  <a class="button" href="/config/wizard">Setup wizard</a>
  <a class="button" href="/config/examples">Example configs</a>
  % if has_previous:
  <a class="button" href="/config?previous=1">Previous version</a>
  % end
</p>
% if not exists and not text.strip():
<p class="message warning">There is no config.toml yet: the <a href="/config/wizard">setup wizard</a> makes a working one in a minute, or start from an <a href="/config/examples">example</a>.</p>
% end
<form method="post" action="/config" class="editor">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <div class="editor-text">
    <label for="config-text" class="sr-only">config.toml</label>
    <div class="code">
      <div class="code-lines" data-editor-lines aria-hidden="true"></div>
      <textarea id="config-text" name="text" spellcheck="false" autocapitalize="off" autocomplete="off" rows="28" {{'readonly' if locked else ''}}>{{text}}</textarea>
    </div>
    <p class="buttons">
      <button name="action" value="check" {{ro}}>Check</button>
      <button name="action" value="save" class="primary" {{ro}}>Save</button>
    </p>
  </div>
  <aside class="problems" aria-label="Problems">
    % if problems:
    % errors = sum(p.is_error for p in problems)
    % warnings = len(problems) - errors
    <h2>Problems: {{errors}} error{{'s' if errors != 1 else ''}}, {{warnings}} warning{{'s' if warnings != 1 else ''}}</h2>
    <ul>
    % for p in problems:
      <li class="{{'error' if p.is_error else 'warning'}}">
        % if p.line:
        <a href="#config-text" data-line="{{p.line}}">line {{p.line}}</a>
        % end
        % if p.key:
        <code>{{p.key}}</code>:\\
        % end
 {{p.message}}
      </li>
    % end
    </ul>
    % elif text.strip():
    <h2>No problems</h2>
    <p>The checker found nothing wrong.</p>
    % end
  </aside>
</form>
% if has_previous and not locked:
<form method="post" action="/config/previous" class="inline">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <button class="link" data-confirm="Go back to the previous config.toml? The current one becomes the previous version.">Go back to the previous version</button>
</form>
% end
% if saved:
<p><a class="button" href="/restart">Restart IMPSY to use it</a></p>
% end
<script src="/static/editor.js" defer></script>

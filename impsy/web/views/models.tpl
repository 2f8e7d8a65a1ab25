% rebase('layout', title='Models')
% ro = 'disabled' if locked else ''
<h1>Models</h1>
<p class="lead">The trained networks IMPSY can play. The active one is the one <code>config.toml</code> names;
making another active changes the config, and a restart plays it.</p>
% if models:
<div class="table-wrap">
<table class="files">
  <thead><tr><th>Model</th><th>Dimension</th><th>Size</th><th>Speed</th><th>File</th><th></th></tr></thead>
  <tbody>
  % for m in models:
    <tr class="{{'active' if m.name == active else ''}}">
      <td data-label="Model"><span class="name">{{m.name}}</span>
        % if m.name == active:
        <span class="pill ok">active</span>
        % end
        % if m.plot:
        <details class="plot"><summary>training loss plot</summary><img src="/models/{{quote(m.name)}}/plot" alt="Loss per epoch while {{m.name}} was trained" loading="lazy"></details>
        % end
      </td>
      % if m.error:
      <td data-label="Dimension">-</td><td data-label="Size" colspan="2" class="error">{{m.error}}</td>
      % else:
      <td data-label="Dimension">{{m.dimension}} ({{m.dimension - 1}} controls)</td>
      <td data-label="Size">{{m.size or '-'}} ({{m.layers}} layers of {{m.units}}{{', original IMPSY export' if m.layout == 'original' else ''}})</td>
      <td data-label="Speed">{{'%.2f' % m.ms_per_step}} ms/step</td>
      % end
      <td data-label="File">{{human_bytes(m.bytes)}}</td>
      <td class="row-actions"><div>
        % if not m.error and m.name != active:
        <form method="post" action="/models/{{quote(m.name)}}/activate"><input type="hidden" name="csrf" value="{{csrf}}"><button class="primary" {{ro}}>Make active</button></form>
        % end
        <a class="button" href="/models/{{quote(m.name)}}" download>Download</a>
        % if not locked and m.name != active:
        <a class="button danger" href="/models/{{quote(m.name)}}/delete">Delete</a>
        % end
      </div></td>
    </tr>
  % end
  </tbody>
</table>
</div>
% if active:
<p><a class="button" href="/restart">Restart IMPSY to play the active model</a></p>
% elif config and config.model.file:
<p class="message warning">The config names <code>{{config.model.file}}</code>, which is not in models/.</p>
% end
% else:
<p class="empty">No models yet. Train one from your logs on the <a href="/training">Training</a> page, or upload a <code>.tflite</code> file below.</p>
% end
% include('upload', url='/api/models', limit=limit, heading='Upload a model', label='Model file (.tflite)', accept='.tflite', multiple=False, options=[('activate', 'Make it the active model'), ('replace', 'Replace one with the same name')], hint='The file is loaded and a few predictions are run before it is accepted.')

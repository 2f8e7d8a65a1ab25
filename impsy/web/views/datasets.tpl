% rebase('layout', title='Datasets')
% ro = 'disabled' if locked else ''
<h1>Datasets</h1>
<p class="lead">A dataset gathers the logs of one dimension into the form training needs. Build one here,
then train on it (on a laptop: see <a href="/training">Training</a>).</p>
<section class="card">
  <h2>Build a dataset from the logs</h2>
  % if dimensions:
  <form method="post" action="/datasets/build" class="row">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label>Logs of dimension
      <select name="dimension">
      % for d in dimensions:
        <option value="{{d}}">{{d}} ({{d - 1}} controls)</option>
      % end
      </select>
    </label>
    <label>A pause longer than <input type="number" name="max_gap" value="{{max_gap}}" min="0.01" step="any" class="short"> s starts a new gesture</label>
    <button class="primary" {{ro}}>Build</button>
  </form>
  % else:
  <p class="empty">There are no logs to build from yet: play with <code>impsy run</code> first, or upload logs on the <a href="/logs">Logs</a> page.</p>
  % end
  % if job:
  <div class="job" data-job="{{job.id}}" data-job-state="{{job.state}}">
    <p><strong>{{job.title}}</strong>: <span data-job-message>{{job.message or ('working…' if job.running else '')}}</span></p>
    <progress max="1" value="{{1 if not job.running else 0}}" data-job-progress></progress>
  </div>
  % end
</section>
% if datasets:
<div class="table-wrap">
<table class="files">
  <thead><tr><th>Dataset</th><th>Dimension</th><th>Contents</th><th>Size</th><th></th></tr></thead>
  <tbody>
  % for d in datasets:
    <tr>
      <td data-label="Dataset"><span class="name">{{d.name}}</span>\\
        % if d.created:
<br><span class="date">built {{d.created}}</span>\\
        % end
</td>
      % if d.error:
      <td data-label="Dimension">-</td><td data-label="Contents" class="error">{{d.error}}</td>
      % else:
      <td data-label="Dimension">{{d.dimension}}</td>
      <td data-label="Contents">{{d.events}} events from {{d.performances}} performances ({{d.minutes}} min)</td>
      % end
      <td data-label="Size">{{human_bytes(d.bytes)}}</td>
      <td class="row-actions"><div><a class="button" href="/datasets/{{quote(d.name)}}" download>Download</a>
        % if not locked:
        <a class="button danger" href="/datasets/{{quote(d.name)}}/delete">Delete</a>
        % end
      </div></td>
    </tr>
  % end
  </tbody>
</table>
</div>
% else:
<p class="empty">No datasets yet: build one from your logs above.</p>
% end
% include('upload', url='/api/datasets', limit=limit, heading='Upload a dataset', label='Dataset file (.npz)', accept='.npz', multiple=False, options=[('replace', 'Replace one with the same name')], hint='Original IMPSY datasets (stored with pickle) are refused: they could run code. Rebuild them from the logs.')
<script src="/static/jobs.js" defer></script>

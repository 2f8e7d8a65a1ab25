% rebase('layout', title='Logs')
<h1>Logs</h1>
<p class="lead">Every performance <code>impsy run</code> hears is written to a log: one row per gesture.
New models are trained from these.</p>
% if logs:
<p class="actions"><a class="button" href="/logs/all.zip" download>Download all logs (.zip)</a></p>
<div class="table-wrap">
<table class="files">
  <thead><tr><th>Log</th><th>Dimension</th><th>Events</th><th>Duration</th><th>Size</th><th></th></tr></thead>
  <tbody>
  % for l in logs:
    <tr>
      <td data-label="Log"><span class="date">{{l.started}}</span>\\
        % if l.name == writing:
 <span class="pill ok">recording</span>\\
        % end
<br><span class="name">{{l.name}}</span></td>
      <td data-label="Dimension">{{l.dimension}}</td>
      <td data-label="Events">{{l.performer}} from you{{', %d from IMPSY' % l.model if l.model else ''}}</td>
      <td data-label="Duration">{{human_duration(l.duration)}}</td>
      <td data-label="Size">{{human_bytes(l.bytes)}}</td>
      <td class="row-actions"><div><a class="button" href="/logs/{{quote(l.name)}}" download>Download</a>
        % if not locked and l.name != writing:
        <a class="button danger" href="/logs/{{quote(l.name)}}/delete">Delete</a>
        % end
      </div></td>
    </tr>
  % end
  </tbody>
</table>
</div>
% else:
<p class="empty">No logs yet. IMPSY writes one each time <code>impsy run</code> hears you play:
send it some input (see the <a href="/monitor">Monitor</a>), or upload logs from another instrument below.</p>
% end
% include('upload', url='/api/logs', limit=limit, heading='Upload logs', label='Log files (.log)', accept='.log', multiple=True, options=[], hint='Names must be as IMPSY writes them, e.g. 2026-01-31T20-15-00-9d-mdrnn.log.')

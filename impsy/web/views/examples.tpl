% rebase('layout', title='Example configs')
<h1>Example configs</h1>
<p class="lead">Working configs to start from. Open one in the editor, change what you need, and Save.</p>
% if not examples:
<p class="empty">No example configs are installed.</p>
% end
<div class="list">
% for e in examples:
  <section class="card">
    <h2><a href="/config/examples/{{quote(e['name'])}}">{{e['name']}}</a></h2>
    % if e['config']:
    % c = e['config']
    % channels = ', '.join(s for s in ('midi', 'osc', 'websocket', 'serial', 'serialmidi', 'gpio') if getattr(c, s) is not None) or 'no channels'
    <p>{{c.title + ' · ' if c.title else ''}}mode {{c.interaction.mode}} · dimension {{c.model.dimension}} · {{channels}}</p>
    % if c.description:
    <p class="hint">{{c.description}}</p>
    % end
    % else:
    <p class="message error">Does not pass the checker: {{e['problems'][0].text if e['problems'] else ''}}</p>
    % end
    <p class="actions"><a class="button" href="/config/examples/{{quote(e['name'])}}">View</a> <a class="button" href="/config?example={{quote(e['name'])}}">Open in the editor</a></p>
  </section>
% end
</div>

% rebase('layout', title='Live monitor')
<h1>Live monitor</h1>
<p class="lead">What you play, what IMPSY plays back, and what its model expects next, as it happens.</p>
<div class="monitor" data-monitor data-live-stream="/monitor/stream">
  <p class="status-line"><span data-live="alive-text">{{'Running' if run['alive'] else 'Not running'}}</span>
    · mode <strong data-live="state.mode">{{(run['state'] or {}).get('mode', '-')}}</strong>
    · in <span data-live="rates.in" data-format="rate">{{'%.1f' % run['rates']['in']}}</span>/s
    · out <span data-live="rates.out" data-format="rate">{{'%.1f' % run['rates']['out']}}</span>/s</p>
  <p class="status-line mind-line">Sampling at sigma temperature <strong data-live="state.sigmatemp" data-format="number">{{human_number((run['state'] or {}).get('sigmatemp'))}}</strong>
    · pi temperature <strong data-live="state.pitemp" data-format="number">{{human_number((run['state'] or {}).get('pitemp'))}}</strong>
    · timescale <strong data-live="state.timescale" data-format="number">{{human_number((run['state'] or {}).get('timescale'))}}</strong>
    · next event expected <strong data-next-dt>-</strong></p>
  <section class="card mind">
    <ul class="keys" aria-label="How to read the plot">
      <li><span class="key in"></span>you (input)</li>
      <li><span class="key out"></span>IMPSY (output)</li>
      <li><span class="key band"></span>where the model expects your next value: each mixture component's mean ± 2 spreads, stronger where it is more likely</li>
      <li><span class="key next"></span>when it expects the next event</li>
    </ul>
    <ol class="controls" data-controls>
    % for name in controls:
      <li><span class="swatch"></span><span class="name">{{name}}</span> <span class="values"><span data-value="in">-</span> → <span data-value="out">-</span></span></li>
    % end
    </ol>
    <p class="empty" data-waiting>Nothing yet. Play your controller{{', or send /interface over OSC' if any(n.startswith('/interface') for n in controls) else ''}}.</p>
    <canvas data-mind-plot aria-label="Each control's input, output and expected next value over the last 10 seconds"></canvas>
    <p class="hint">One lane per control, 0 at the bottom and 1 at the top; the last 10 seconds up to <em>now</em> (4 on a phone), and a second beyond it for what the model expects. A line stops where nothing was played.</p>
  </section>
</div>
<script src="/static/monitor.js" defer></script>

% rebase('layout', title='Live monitor')
<h1>Live monitor</h1>
<p class="lead">What the performer plays (input) and what IMPSY plays back (output), as it happens.
% if dimension:
{{dimension - 1}} controls each.
% end
</p>
<div class="monitor" data-monitor data-live-stream="/monitor/stream">
  <p class="status-line"><span data-live="alive-text">{{'Running' if run['alive'] else 'Not running'}}</span>
    · mode <strong data-live="state.mode">{{(run['state'] or {}).get('mode', '-')}}</strong>
    · in <span data-live="rates.in" data-format="rate">{{'%.1f' % run['rates']['in']}}</span>/s
    · out <span data-live="rates.out" data-format="rate">{{'%.1f' % run['rates']['out']}}</span>/s</p>
  % for kind, label in (('in', 'Input: the performer'), ('out', 'Output: IMPSY')):
  <section class="card trace" data-kind="{{kind}}">
    <h2>{{label}}</h2>
    <div class="bars" data-bars="{{kind}}"><p class="empty">Nothing yet. {{'Play your controller, or send /interface over OSC.' if kind == 'in' else 'IMPSY has not played since this page opened.'}}</p></div>
    <canvas data-plot="{{kind}}" width="800" height="160" aria-label="{{label}}, last 10 seconds"></canvas>
    <p class="hint">Last 10 seconds; each colour is one control, 0 at the bottom, 1 at the top.</p>
  </section>
  % end
</div>
<script src="/static/monitor.js" defer></script>

% rebase('layout', title='Commands')
% # What `impsy run` last reported; once it has stopped, it is not playing whatever it said last.
% state = run['state'] or {}
% alive = run['alive']
<h1>Commands</h1>
<div data-live-stream="/monitor/stream?vectors=0" class="cards">
<section class="card state">
  <h2>What IMPSY reports</h2>
  <p data-show-when="dead" class="message warning" {{'hidden' if run['alive'] else ''}}>IMPSY is not running, so these buttons do nothing until it starts.</p>
  <dl>
    <dt>Mode</dt><dd data-live="state.mode" data-state="mode">{{state.get('mode', '-')}}</dd>
    <dt>Paused</dt><dd data-live="state.paused" data-format="yesno" data-stopped="-">{{('yes' if state.get('paused') else 'no') if alive else '-'}}</dd>
    <dt>Playing now</dt><dd data-live="state.playing" data-format="yesno" data-stopped="no: impsy run has stopped">{{('yes' if state.get('playing') else 'no') if alive else 'no: impsy run has stopped'}}</dd>
    <dt>Sigma temperature</dt><dd data-live="state.sigmatemp" data-format="number">{{human_number(state.get('sigmatemp'))}}</dd>
    <dt>Pi temperature</dt><dd data-live="state.pitemp" data-format="number">{{human_number(state.get('pitemp'))}}</dd>
    <dt>Timescale</dt><dd data-live="state.timescale" data-format="number">{{human_number(state.get('timescale'))}}</dd>
  </dl>
</section>
<section class="card">
  <h2>Mode</h2>
  <div class="buttons">
  % for mode in modes:
    <form method="post" action="/commands/mode">
      <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="value" value="{{mode}}">
      <button class="{{'primary' if state.get('mode') == mode else ''}}" data-mode-button="{{mode}}">{{mode}}</button>
    </form>
  % end
  </div>
  <p class="hint">callresponse: IMPSY answers when you stop · polyphony: it plays along · battle: it plays on its own · useronly: it only listens.</p>
</section>
<section class="card">
  <h2>Play</h2>
  <div class="buttons">
    <form method="post" action="/commands/pause"><input type="hidden" name="csrf" value="{{csrf}}"><button>Pause</button></form>
    <form method="post" action="/commands/resume"><input type="hidden" name="csrf" value="{{csrf}}"><button>Resume</button></form>
    <form method="post" action="/commands/reset"><input type="hidden" name="csrf" value="{{csrf}}"><button>Reset memory</button></form>
  </div>
</section>
<section class="card">
  <h2>Sound</h2>
  % for name, label, low, high, step, hint in (('sigmatemp', 'Sigma temperature', 0, 1, 0.005, 'lower: smoother, more predictable'), ('pitemp', 'Pi temperature', 0, 5, 0.05, 'higher: more surprising choices'), ('timescale', 'Timescale', 0.1, 10, 0.1, '2: half speed · 0.5: double speed')):
  <form method="post" action="/commands/{{name}}" class="setting">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="cmd-{{name}}">{{label}}</label>
    <input id="cmd-{{name}}" type="number" name="value" min="{{low}}" max="{{high}}" step="any" value="{{human_number(state[name]) if name in state else ''}}" required>
    <button>Set</button>
    <span class="hint">{{hint}}</span>
  </form>
  % end
</section>
<section class="card">
  <h2>Performance lock</h2>
  <p>While it is on, everything but this page is read-only, so nothing can be changed by accident during a show.</p>
  <form method="post" action="/lock">
    <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="/commands">
    % if locked:
    <input type="hidden" name="locked" value="off"><button>Unlock</button> <span class="pill lock">locked</span>
    % else:
    <input type="hidden" name="locked" value="on"><button>Lock for the show</button>
    % end
  </form>
</section>
</div>

% rebase('layout', title='Dashboard')
% state = run['state'] or {}
% model = state.get('model') or {}
<h1>Dashboard</h1>
<div class="grid" data-live-stream="/monitor/stream?vectors=0">
  <section class="card">
    <h2>IMPSY</h2>
    <p class="big" data-live="alive-text">{{'Running' if run['alive'] else 'Not running'}}</p>
    <div data-show-when="alive" {{'' if run['alive'] else 'hidden'}}>
      <dl>
        <dt>Mode</dt><dd data-live="state.mode">{{state.get('mode', '-')}}</dd>
        <dt>Paused</dt><dd data-live="state.paused" data-format="yesno">{{'yes' if state.get('paused') else 'no'}}</dd>
        <dt>Model</dt><dd data-live="state.model.file" data-format="file">{{(model.get('file') or 'random (dummy) model').rsplit('/', 1)[-1]}}</dd>
        <dt>Dimension</dt><dd data-live="state.model.dimension">{{model.get('dimension', '-')}}</dd>
        <dt>Size</dt><dd data-live="state.model.size">{{model.get('size') or '-'}}</dd>
        <dt>Input</dt><dd><span data-live="rates.in" data-format="rate">{{'%.1f' % run['rates']['in']}}</span> events/s</dd>
        <dt>Output</dt><dd><span data-live="rates.out" data-format="rate">{{'%.1f' % run['rates']['out']}}</span> events/s</dd>
        <dt>Version</dt><dd data-live="state.version">{{state.get('version', '-')}}</dd>
      </dl>
    </div>
    <div data-show-when="dead" {{'hidden' if run['alive'] else ''}}>
      <p>No report from <code>impsy run</code> on port {{run['monitor_port']}}\\
      % if run['last_heard'] is not None:
 for <span data-live="last_heard">{{run['last_heard']}}</span> s\\
      % end
.</p>
      % if run['error']:
      <p class="message error">{{run['error']}}</p>
      % end
      % if restart_command:
      <p>On the instrument it restarts by itself within seconds. If it does not come back, look for
      problems on the <a href="/config">Configuration</a> page, then <a href="/restart">restart it</a>.</p>
      % else:
      <p>Start it in a terminal: <code>impsy run --config {{workdir}}/config.toml</code></p>
      % end
    </div>
  </section>
  <section class="card">
    <h2>Configuration</h2>
    % if not config_exists:
    <p>There is no <code>config.toml</code> yet. Make one with the <a href="/config/wizard">setup wizard</a>
    or start from an <a href="/config/examples">example</a>.</p>
    % elif config_errors:
    <p class="message error">config.toml has {{len(config_errors)}} problem{{'s' if len(config_errors) != 1 else ''}}: IMPSY cannot start with it.</p>
    <p><a class="button" href="/config">Fix it</a></p>
    % else:
    <dl>
      <dt>Mode</dt><dd>{{config.interaction.mode}}</dd>
      <dt>Model</dt><dd>{{active_model or (config.model.file.rsplit('/', 1)[-1] if config.model.file else 'random (dummy) model')}}</dd>
      <dt>Dimension</dt><dd>{{config.model.dimension}}</dd>
      <dt>Channels</dt><dd>{{', '.join(s for s in ('midi', 'osc', 'websocket', 'serial', 'serialmidi', 'gpio') if getattr(config, s) is not None) or 'none'}}</dd>
    </dl>
    % running_file = (model.get('file') or '').rsplit('/', 1)[-1]
    % wanted = config.model.file.rsplit('/', 1)[-1] if config.model.file else ''
    % if run['alive'] and running_file != wanted and not (wanted.endswith(('.h5', '.keras')) and running_file.endswith('.tflite')):
    <p class="message warning">IMPSY is playing {{running_file or 'the dummy model'}}, but the config names {{wanted or 'no model'}}: <a href="/restart">restart</a> to apply it.</p>
    % end
    % end
  </section>
  <section class="card">
    <h2>This instrument</h2>
    <dl>
      <dt>Free space</dt><dd>{{human_bytes(disk_free)}}</dd>
      <dt>CPU temperature</dt><dd>{{'%.1f °C' % temperature if temperature is not None else 'not reported on this machine'}}</dd>
      <dt>Web UI</dt><dd>IMPSY {{version}}</dd>
      <dt>Folder</dt><dd><code>{{workdir}}</code></dd>
      <dt>Lock</dt><dd>{{'on: read-only except Commands' if locked else 'off'}}</dd>
    </dl>
  </section>
</div>

% rebase('layout', title='Setup wizard')
% ro = 'disabled' if locked else ''
<h1>Setup wizard</h1>
<p class="lead">Answer a few questions and the wizard writes a working config for you to check and save.
Nothing is saved until you press Save on the next page.</p>
<form method="post" action="/config/wizard" class="wizard">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="monitor_port" value="{{choices.monitor_port}}">
  <input type="hidden" name="command_port" value="{{choices.command_port}}">
  <fieldset class="card">
    <legend>1. The instrument</legend>
    <label>Title <input name="title" value="{{choices.title}}"></label>
    <label>Mode
      <select name="mode">
      % for mode in modes:
        <option {{'selected' if mode == choices.mode else ''}}>{{mode}}</option>
      % end
      </select>
    </label>
    <p class="hint">callresponse: IMPSY answers when you stop · polyphony: plays along · battle: plays on its own · useronly: only listens (to collect data).</p>
  </fieldset>
  <fieldset class="card">
    <legend>2. The model</legend>
    <label>Model
      <select name="model">
        <option value="">None yet: random gestures (choose the dimension below)</option>
      % for m in models:
        <option value="{{m.name}}" {{'selected' if m.name == choices.model else ''}}>{{m.name}} ({{m.dimension - 1}} controls, size {{m.size or '-'}})</option>
      % end
      </select>
    </label>
    <label>Dimension (controls + 1) <input type="number" name="dimension" min="2" max="100" value="{{choices.dimension}}"></label>
    <p class="hint">With a model chosen, its own dimension is used. 8 sliders make dimension 9.</p>
    <label>Size
      <select name="size">
      % for size in sizes:
        <option {{'selected' if size == choices.size else ''}}>{{size}}</option>
      % end
      </select>
    </label>
  </fieldset>
  <fieldset class="card">
    <legend>3. How IMPSY talks to your instrument</legend>
    <label class="check"><input type="checkbox" name="channels" value="osc" {{'checked' if 'osc' in choices.channels else ''}}> OSC (Pure Data, Max, SuperCollider)</label>
    <div class="sub">
      <label>IMPSY listens on port <input type="number" name="osc_server_port" min="1" max="65535" value="{{choices.osc_server_port}}"></label>
      <label>and sends to address <input name="osc_client_ip" value="{{choices.osc_client_ip}}"></label>
      <label>port <input type="number" name="osc_client_port" min="1" max="65535" value="{{choices.osc_client_port}}"></label>
    </div>
    <label class="check"><input type="checkbox" name="channels" value="midi" {{'checked' if 'midi' in choices.channels else ''}}> MIDI (USB controllers and synths)</label>
    <div class="sub">
      <label>Input device name (part of it is enough) <input name="midi_in" placeholder="e.g. nanoKONTROL"></label>
      <label>Output device name <input name="midi_out" placeholder="e.g. S-1"></label>
    </div>
    <label class="check"><input type="checkbox" name="channels" value="websocket" {{'checked' if 'websocket' in choices.channels else ''}}> WebSocket (browser instruments)</label>
    <div class="sub"><label>Port <input type="number" name="websocket_port" min="1" max="65535" value="{{choices.websocket_port}}"></label></div>
    <label class="check"><input type="checkbox" name="channels" value="serial" {{'checked' if 'serial' in choices.channels else ''}}> Serial (micro:bit, Arduino: comma-separated values)</label>
    <div class="sub">
      <label>Port <input name="serial_port" value="{{choices.serial_port}}"></label>
      <label>Baud rate <input type="number" name="serial_baudrate" value="{{choices.serial_baudrate}}"></label>
    </div>
    <label class="check"><input type="checkbox" name="channels" value="serialmidi" {{'checked' if 'serialmidi' in choices.channels else ''}}> MIDI over a serial port (DIN sockets on the Pi's UART)</label>
    <div class="sub"><label>Port <input name="serialmidi_port" value="{{choices.serialmidi_port}}"></label></div>
  </fieldset>
  <fieldset class="card">
    <legend>4. MIDI mapping (MIDI, WebSocket and serial MIDI)</legend>
    <label>Each control is
      <select name="midi_kind">
        <option value="control_change">a control change (CC), numbered from the first CC below</option>
        <option value="note_on">a note, one MIDI channel per control from the channel below</option>
      </select>
    </label>
    <label>MIDI channel <input type="number" name="midi_channel" min="1" max="16" value="{{choices.midi_channel}}"></label>
    <label>First CC number <input type="number" name="midi_first_cc" min="0" max="127" value="{{choices.midi_first_cc}}"></label>
  </fieldset>
  <p><button class="primary" {{ro}}>Write the config</button></p>
</form>

% rebase('layout', title='Training')
% ro = 'disabled' if locked else ''
% from impsy.model import model_filename
% model_file = model_filename(dimension, 2, 64) + '.tflite'
<h1>Training</h1>
% if available:
<p class="lead">Train a new model from a dataset on this computer. It keeps the epoch that did best on
held-out performances and saves it in models/ (an existing model is never overwritten).</p>
<section class="card">
  <h2>Train a model</h2>
  % if datasets:
  <form method="post" action="/training/start" class="row">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label>Dataset
      <select name="dataset">
      % for d in datasets:
        <option value="{{d.name}}">{{d.name}} ({{d.dimension}}d, {{d.events}} events)</option>
      % end
      </select>
    </label>
    <label>Size
      <select name="size">
      % for s in sizes:
        <option {{'selected' if s == 's' else ''}}>{{s}}</option>
      % end
      </select>
    </label>
    <label>Epochs at most <input type="number" name="epochs" value="100" min="1" max="10000" class="short"></label>
    <label class="check"><input type="checkbox" name="earlystopping" checked> Stop when it stops improving</label>
    <button class="primary" {{ro}} {{'disabled' if job and job.running else ''}}>Start training</button>
  </form>
  % else:
  <p class="empty">There is no dataset to train on yet: build one on the <a href="/datasets">Datasets</a> page.</p>
  % end
</section>
% if job:
<section class="card job" data-job="{{job.id}}" data-job-state="{{job.state}}" data-training>
  <h2>{{job.title}}</h2>
  <p><span data-job-message>{{job.message or ('training…' if job.running else '')}}</span></p>
  <progress max="1" value="{{0 if job.running else 1}}" data-job-progress></progress>
  <canvas data-loss-plot width="800" height="260" aria-label="Loss per epoch"></canvas>
  <p class="hint"><span class="key train">training loss</span> <span class="key val">validation loss (held-out performances)</span>; lower is better.</p>
  % if job.running:
  <form method="post" action="/training/stop"><input type="hidden" name="csrf" value="{{csrf}}"><button class="danger" data-job-stop {{ro}}>Stop (keep the best epoch)</button></form>
  % end
  <p data-job-done {{'' if job.state == 'done' else 'hidden'}}><a class="button primary" href="/models">Go to Models to make it active</a></p>
  <details open><summary>Output</summary><pre class="code output" data-job-output></pre></details>
</section>
% end
% else:
<p class="lead">Training needs TensorFlow, which this instrument does not have: train on a laptop and send the
model back. It takes four commands.</p>
<ol class="steps">
  <li class="card"><h2>Install the trainer on your laptop</h2>
    <p>You need Python 3.11 or newer and a copy of the IMPSY source (version {{version}}). In its folder:</p>
    <pre class="code command">python3 -m venv .venv
source .venv/bin/activate
pip install -e . -e ./train</pre>
    <p class="hint">On Windows the second line is <code>.venv\Scripts\activate</code>.</p></li>
  <li class="card"><h2>Fetch the logs from the instrument</h2>
    <pre class="code command">impsy-train pull http://{{host}} --dest logs</pre>
    <p class="hint">Only logs you do not have yet are downloaded.</p></li>
  <li class="card"><h2>Train a model</h2>
    <pre class="code command">impsy-train train -D {{dimension}} -M s --earlystopping --logs logs</pre>
    <p class="hint">Dimension {{dimension}} is what config.toml uses now. This writes
    <code>models/{{model_file}}</code>, its training report and a loss plot.</p></li>
  <li class="card"><h2>Send it back and make it active</h2>
    <pre class="code command">impsy-train push models/{{model_file}} http://{{host}} --restart</pre>
    <p class="hint">The instrument checks the model, points config.toml at it and restarts IMPSY.
    Or upload it on the <a href="/models">Models</a> page.</p></li>
</ol>
% end
<script src="/static/jobs.js" defer></script>

% rebase('layout', title='Training')
% ro = 'disabled' if locked else ''
% busy = 'disabled' if job and job.running else ''
% from impsy.model import model_filename
% model_file = model_filename(dimension, 2, 64) + '.tflite'
<h1>Training</h1>
% if available:
<p class="lead">Train a model here, beside the performance: training runs at the lowest priority with a
memory cap, so IMPSY keeps playing. Each run keeps the epoch that did best on held-out performances and
saves a new model in models/ (an existing model is never replaced).</p>
<section class="card">
  <h2>Learn from tonight</h2>
  % if active and logs:
  <p>Carry on training <code>{{active}}</code> on the logs recorded since it was made, with older logs
  replayed so that it does not forget. The page compares tonight's held-out playing before and after.</p>
  <form method="post" action="/training/finetune">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button class="primary" {{ro}} {{busy}}>Learn from tonight</button>
  </form>
  <p class="hint">Works on models that impsy-train made (not on models from the original IMPSY).</p>
  % elif not active:
  <p class="empty">There is no active model to learn from: make one active on the <a href="/models">Models</a> page, or train one below.</p>
  % else:
  <p class="empty">There are no logs yet: play first, then learn from them.</p>
  % end
</section>
<section class="card">
  <h2>Train a new model</h2>
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
    <button class="primary" {{ro}} {{busy}}>Start training</button>
  </form>
  % else:
  <p class="empty">There is no dataset to train on yet: build one on the <a href="/datasets">Datasets</a> page.</p>
  % end
</section>
% if job:
% models = job.result.get('models') or []
<section class="card job" data-job="{{job.id}}" data-job-state="{{job.state}}" data-training>
  <h2>{{job.title}}</h2>
  <p><span data-job-message>{{job.message or ('training…' if job.running else '')}}</span>
    <span class="hint" data-job-eta></span></p>
  <progress max="1" value="{{0 if job.running else 1}}" data-job-progress></progress>
  <canvas data-loss-plot width="800" height="260" aria-label="Loss per epoch"></canvas>
  <p class="hint"><span class="key train">training loss</span> <span class="key val">held-out loss (performances it does not learn from)</span>; lower is better; the dot is the best epoch, the one kept.</p>
  % if job.running:
  <form method="post" action="/training/stop"><input type="hidden" name="csrf" value="{{csrf}}"><button class="danger" data-job-stop {{ro}}>Stop (keep the best epoch)</button></form>
  % end
  <form method="post" action="/models/{{quote(models[0]) if models else ''}}/activate" data-job-done {{'' if job.state == 'done' and models else 'hidden'}}>
    <input type="hidden" name="csrf" value="{{csrf}}">
    % if can_restart:
    <input type="hidden" name="restart" value="1">
    <button class="primary" {{ro}}>Make <span data-job-model>{{models[0] if models else ''}}</span> active and restart</button>
    % else:
    <button class="primary" {{ro}}>Make <span data-job-model>{{models[0] if models else ''}}</span> active</button>
    <span class="hint">then restart IMPSY by hand (see <a href="/restart">Restart</a>)</span>
    % end
  </form>
  <details open><summary>Output</summary><pre class="code output" data-job-output></pre></details>
</section>
% end
% else:
<p class="lead">impsy-train, the trainer, is not installed beside this web UI. It needs only numpy (no
TensorFlow): install it and restart the web UI, and this page trains here.</p>
<ol class="steps">
  <li class="card"><h2>Install the trainer</h2>
    <p>In the folder of the IMPSY source (version {{version}}), in the same Python environment as <code>impsy</code>:</p>
    <pre class="code command">pip install -e ./train</pre>
    <p class="hint">An IMPSY Pi has it already.</p></li>
  <li class="card"><h2>Or train elsewhere</h2>
    <p>On a computer with impsy-train, fetch the logs, train, and send the model back:</p>
    <pre class="code command">impsy-train pull http://{{host}} --dest logs
impsy-train train -D {{dimension}} -M s --earlystopping --logs logs
impsy-train push models/{{model_file}} http://{{host}} --restart</pre>
    <p class="hint">Dimension {{dimension}} is what config.toml uses now. Or upload the model on the <a href="/models">Models</a> page.</p></li>
</ol>
% end
<script src="/static/lossplot.js" defer></script>
<script src="/static/jobs.js" defer></script>

% rebase('layout', title='Delete ' + name)
<h1>Delete {{name}}?</h1>
<section class="card narrow">
  <p>This deletes <code>{{folder}}/{{name}}</code> ({{human_bytes(size)}}) from the instrument. It cannot be undone
  (download it first, or make a <a href="/backup">backup</a>, if you may want it again).</p>
  % if warning:
  <p class="message warning">{{warning}}</p>
  % end
  <form method="post" action="/{{folder}}/{{quote(name)}}/delete" class="buttons">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button class="danger" {{'disabled' if locked or warning else ''}}>Delete</button>
    <a class="button" href="/{{folder}}">Cancel</a>
  </form>
</section>

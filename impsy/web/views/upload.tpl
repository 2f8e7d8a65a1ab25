<form class="upload card" data-upload="{{url}}" data-limit="{{limit}}">
  <h2>{{heading}}</h2>
  <label>{{label}} <input type="file" name="file" accept="{{accept}}" {{'multiple' if multiple else ''}} {{'disabled' if locked else ''}}></label>
  % for param, text in options:
  <label class="check"><input type="checkbox" data-param="{{param}}" {{'disabled' if locked else ''}}> {{text}}</label>
  % end
  <button class="primary" {{'disabled' if locked else ''}}>Upload</button>
  <progress max="100" value="0" hidden></progress>
  <p class="upload-result" role="status" aria-live="polite"></p>
  <p class="hint">Up to {{human_bytes(limit)}} each. {{hint}}</p>
</form>

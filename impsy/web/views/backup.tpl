% rebase('layout', title='Backup')
<h1>Backup</h1>
<section class="card">
  <h2>Download a backup</h2>
  <p>Everything in one .zip file: config.toml (and its previous version), logs, datasets and models:
  {{files}} files, {{human_bytes(total)}}.</p>
  <p><a class="button primary" href="/backup/download" download>Download the backup</a></p>
</section>
% include('upload', url='/api/backup/restore', limit=limit, heading='Restore from a backup', label='Backup file (.zip)', accept='.zip', multiple=False, options=[], hint='Everything in the archive is checked first (the config, datasets and models must all be usable); then its files replace those with the same names. Files it does not hold are kept.')

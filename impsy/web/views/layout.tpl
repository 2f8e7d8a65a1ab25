<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{{csrf}}">
<title>{{title}} · IMPSY</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<script src="/static/app.js" defer></script>
</head>
<body data-page="{{page}}">
% # Logged out (a 404, say): no menu, no state of the instrument, nothing to log out of.
% inside = signed_in and page != 'login'
<header class="top">
  <a class="brand" href="/">IMPSY</a>
  % if inside:
  <span class="pill {{'ok' if run['alive'] else 'off'}}" data-live-pill>
    % if run['alive']:
    running · {{(run['state'] or {}).get('mode', '?')}}
    % else:
    not running
    % end
  </span>
  % end
  % if locked and inside:
  <span class="pill lock" title="Performance lock is on">locked</span>
  % end
  % if password and inside:
  <form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}"><button class="link">Log out</button></form>
  % end
</header>
% if inside:
<nav class="main" aria-label="Pages">
% for href, label, key in [('/', 'Dashboard', 'dashboard'), ('/monitor', 'Monitor', 'monitor'), ('/commands', 'Commands', 'commands'), ('/config', 'Configuration', 'config'), ('/logs', 'Logs', 'logs'), ('/datasets', 'Datasets', 'datasets'), ('/models', 'Models', 'models'), ('/training', 'Training', 'training'), ('/backup', 'Backup', 'backup'), ('/restart', 'Restart', 'restart')]:
  % current = key == page or (key == 'config' and page in ('wizard', 'examples', 'example'))
  <a href="{{href}}" aria-current="{{'page' if current else 'false'}}" class="{{'current' if current else ''}}">\\
  % if label == 'Configuration':
<span class="long">Configuration</span><span class="short">Config</span>\\
  % else:
{{label}}\\
  % end
</a>
% end
</nav>
% end
% if locked and inside and page != 'commands':
<div class="banner lock">
  <strong>Performance lock is on.</strong> Everything but the Commands page is read-only.
  <form method="post" action="/lock"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="locked" value="off"><input type="hidden" name="next" value="{{path}}"><button>Unlock</button></form>
</div>
% end
<main>
% if flash:
<p class="message {{flash['kind']}}" role="status">{{flash['message']}}</p>
% end
% if error:
<p class="message error" role="alert">{{error}}</p>
% end
% if notice:
<p class="message ok" role="status">{{notice}}</p>
% end
{{!base}}
</main>
<footer>IMPSY {{version}} · web UI</footer>
</body>
</html>

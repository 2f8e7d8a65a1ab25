"""Headers every response carries, whatever produced it (a page, a file, a refusal, a crash).

They are added where the app meets WSGI, so no handler, error page or stream can forget them:
no other site may frame the UI (and click its buttons), browsers must not guess content types,
pages load scripts, styles and images from this server only (nothing inline), and no address
of the instrument leaks to another site in a Referer ("same-origin" rather than "no-referrer",
which would make browsers send `Origin: null` and blunt the origin check in checks.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import bottle

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)
_NAMES = {name.lower() for name, _ in SECURITY_HEADERS}


_CSP = "content-security-policy"


class SecureBottle(bottle.Bottle):
    """A bottle app whose every response carries SECURITY_HEADERS (and only once).

    A route may send a content security policy of its own, only ever a stricter one (the
    loss plot's is `default-src 'none'; sandbox`): that one is kept.
    """

    def wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            own = {name.lower() for name, _ in headers} & {_CSP}
            kept = [(name, value) for name, value in headers if name.lower() not in _NAMES - own]
            added = [(name, value) for name, value in SECURITY_HEADERS if name.lower() not in own]
            return start_response(status, kept + added, exc_info)

        return super().wsgi(environ, start)

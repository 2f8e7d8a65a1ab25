"""Secrets, CSRF tokens, the optional password, the performance lock and the host check.

- Every browser gets a random session id in a cookie; its CSRF token is an HMAC of that id with
  a secret kept in WORKDIR/.webui/secret. Every state-changing request must carry the token (a
  form field or the X-CSRF-Token header), so another web site cannot make the browser act.
- The password is optional (off by default on the USB link): passwords.py checks guesses,
  sessions.py keeps the logins it grants.
- Host names that are not IP addresses, localhost, *.local or this machine's name are refused:
  with DNS rebinding, a web page could otherwise read this server under its own name.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
from pathlib import Path

from impsy.web.passwords import Hasher, Throttle, fingerprint, read_password_hash, write_private
from impsy.web.sessions import Sessions

log = logging.getLogger(__name__)

SESSION_COOKIE = "impsy_session"
AUTH_COOKIE = "impsy_auth"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


def load_secret(state: Path) -> bytes:
    """The server's secret key, created on first use; in memory only if it cannot be saved."""
    path = state / "secret"
    try:
        value = bytes.fromhex(path.read_text().strip())
        if len(value) >= 32:
            return value
    except (OSError, ValueError):
        pass
    value = secrets.token_bytes(32)
    with contextlib.suppress(OSError):
        write_private(path, value.hex())
    return value


class Guard:
    """The checks every request goes through; thread-safe."""

    def __init__(
        self,
        secret: bytes,
        password_file: Path,
        lock_file: Path,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self.secret = secret
        self.password_file = password_file
        self.lock_file = lock_file
        self.allowed_hosts = {h.lower().rstrip(".") for h in allowed_hosts}
        with contextlib.suppress(OSError):
            self.allowed_hosts.add(socket.gethostname().lower())
        self.sessions = Sessions()
        self._hasher = Hasher()
        self._throttle = Throttle()
        self._mutex = threading.Lock()
        self._locked = self._read_lock()

    # -- CSRF --

    def new_session(self) -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.secret, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str | None, token: str | None) -> bool:
        if not session or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session), token)

    # -- password and logins --

    @property
    def password_hash(self) -> str | None:
        return read_password_hash(self.password_file)

    @property
    def password_required(self) -> bool:
        return self.password_hash is not None

    def login(self) -> str:
        """A new login session (for the current password); its cookie value."""
        return self.sessions.start(fingerprint(self.password_hash or ""))

    def login_ok(self, cookie: str | None) -> bool:
        stored = self.password_hash
        return stored is None or self.sessions.valid(cookie, fingerprint(stored))

    def logout(self, cookie: str | None) -> None:
        self.sessions.end(cookie)

    def basic_ok(self, header: str | None, peer: str) -> bool:
        """HTTP Basic credentials (any user name) for the command-line tools."""
        if self.password_hash is None:
            return True
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return self.check_password(password, peer)

    def check_password(self, password: str, peer: str) -> bool:
        """Is this the password? Throttled if `peer` guessed wrong too often, Busy if too many
        guesses are being checked (passwords.py)."""
        stored = self.password_hash
        if stored is None:
            return True
        return self._throttle.check(peer, lambda: self._hasher.verify(password, stored))

    def throttled(self, peer: str) -> bool:
        return self._throttle.throttled(peer)

    # -- performance lock --

    def _read_lock(self) -> bool:
        try:
            return bool(json.loads(self.lock_file.read_text()).get("locked"))
        except (OSError, ValueError, AttributeError):
            return False

    @property
    def locked(self) -> bool:
        return self._locked

    def set_locked(self, locked: bool) -> None:
        with self._mutex:
            self._locked = locked
            with contextlib.suppress(OSError):
                write_private(self.lock_file, json.dumps({"locked": locked}) + "\n")

    # -- host names --

    def host_ok(self, host_header: str | None) -> bool:
        """Is this Host header one we answer to (see the module docstring)?"""
        if not host_header:
            return True  # HTTP/1.0 clients may omit it; then no name was used to reach us
        host = host_header.strip().lower()
        if host.startswith("["):  # [IPv6]:port
            host = host[1 : host.find("]")] if "]" in host else host
        elif host.count(":") == 1:
            host = host.rsplit(":", 1)[0]
        host = host.rstrip(".")
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            pass
        return host == "localhost" or host.endswith(".local") or host in self.allowed_hosts

"""Secrets, CSRF tokens, the optional password, the performance lock and the host check.

- Every browser gets a random session id in a cookie; its CSRF token is an HMAC of that id with
  a secret kept in WORKDIR/.webui/secret. Every state-changing request must carry the token (a
  form field or the X-CSRF-Token header), so another web site cannot make the browser act.
- The password is optional (off by default on the USB link). It is stored as a scrypt hash;
  a login gives a signed cookie that names the hash it was made with, so changing the password
  logs everyone out.
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
import os
import secrets
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

SESSION_COOKIE = "impsy_session"
AUTH_COOKIE = "impsy_auth"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_DAYS = 30
SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MB of memory: fine on a Zero 2 W, slow to guess
MAX_FAILURES = 5  # failed logins per minute before logins are refused for a while
FAILURE_WINDOW = 60.0


UNREADABLE = "!unreadable"  # a password file that exists but cannot be read: nobody can log in


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


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
        _write_private(path, value.hex())
    return value


# ---- Password -----------------------------------------------------------------------------------


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual.hex(), digest)


def read_password_hash(path: Path) -> str | None:
    """The stored hash; None without a password file. An unreadable file locks everyone out
    (failing closed) rather than switching the password off."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        log.error("%s cannot be read (%s): nobody can log in until it is fixed", path, error)
        return UNREADABLE
    return text or None


def write_password_hash(path: Path, password: str) -> None:
    # Group-readable: set by the first user over SSH, read by the web UI's service user, both in
    # group impsy. It holds a salted scrypt hash only.
    _write_private(path, hash_password(password) + "\n", 0o640)


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
        self._failures: dict[str, list[float]] = {}  # client address -> times of wrong passwords
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

    def _fingerprint(self, stored: str) -> str:
        return hashlib.sha256(stored.encode()).hexdigest()[:16]

    def login_cookie(self, now: float | None = None) -> str:
        stored = self.password_hash or ""
        issued = str(int(now if now is not None else time.time()))
        mac = hmac.new(self.secret, f"auth:{issued}:{self._fingerprint(stored)}".encode(), hashlib.sha256)
        return f"{issued}.{mac.hexdigest()}"

    def login_ok(self, cookie: str | None, now: float | None = None) -> bool:
        stored = self.password_hash
        if stored is None:
            return True
        if not cookie or "." not in cookie:
            return False
        issued, mac = cookie.split(".", 1)
        if not issued.isdigit():
            return False
        age = (now if now is not None else time.time()) - int(issued)
        if age < 0 or age > LOGIN_DAYS * 86400:
            return False
        expected = hmac.new(
            self.secret, f"auth:{issued}:{self._fingerprint(stored)}".encode(), hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, mac)

    def basic_ok(self, header: str | None, client: str = "") -> bool:
        """HTTP Basic credentials (any user name) for the command-line tools."""
        stored = self.password_hash
        if stored is None:
            return True
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return self.check_password(password, client)

    def check_password(self, password: str, client: str = "", now: float | None = None) -> bool:
        stored = self.password_hash
        if stored is None:
            return True
        ok = verify_password(password, stored)
        if not ok:
            with self._mutex:
                self._failures.setdefault(client, []).append(now if now is not None else time.monotonic())
        return ok

    def throttled(self, client: str = "", now: float | None = None) -> bool:
        """Too many wrong passwords lately from this client? Counted per client address, so
        someone guessing on the network cannot lock the owner out."""
        now = now if now is not None else time.monotonic()
        with self._mutex:
            # Every client's old failures go, so addresses that never come back are forgotten.
            self._failures = {
                who: recent
                for who, times in self._failures.items()
                if (recent := [t for t in times if now - t < FAILURE_WINDOW])
            }
            return len(self._failures.get(client, ())) >= MAX_FAILURES

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
                _write_private(self.lock_file, json.dumps({"locked": locked}) + "\n")

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

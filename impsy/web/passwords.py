"""The optional password: its scrypt hash on disk, checking guesses, and throttling guessers.

Each check costs a memory-hard hash (16 MB), so how many run at once is what an attacker on the
network controls: guesses are hashed one at a time on one thread of their own, behind a short
queue; when it is full a guess is refused at once (`Busy`) instead of waiting in memory. A
semaphore around the hash would not do: every request thread would keep its own 16 MB heap.
Guesses are counted per peer address (the socket's, never a header a client writes itself),
and a guess still being checked counts, so a burst of parallel guesses gets no more than a few.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # 16 MB of memory: fine on a Zero 2 W, slow to guess
MAX_FAILURES = 5  # wrong passwords per peer and minute before its guesses are refused
FAILURE_WINDOW = 60.0
QUEUE_LENGTH = 4  # guesses waiting for the hashing thread; more are refused as Busy
WAIT_LIMIT = 20.0  # seconds a guess may wait for its turn and its hash
UNREADABLE = "!unreadable"  # a password file that exists but cannot be read: nobody can log in


class Busy(Exception):
    """Too many passwords are being checked right now: try again in a moment."""


class Throttled(Exception):
    """Too many wrong passwords from this peer lately."""


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or (int(n), int(r), int(p)) != tuple(SCRYPT.values()):
            return False  # never let a planted file choose how much memory a guess costs
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
    write_private(path, hash_password(password) + "\n", 0o640)


def fingerprint(stored: str) -> str:
    """Names a password hash (a new password, even the same one again, has another)."""
    return hashlib.sha256(stored.encode()).hexdigest()[:16]


@dataclass
class _Guess:
    password: str
    stored: str
    ok: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class Hasher:
    """Checks passwords one at a time on its own thread (started on first use)."""

    def __init__(self, queue_length: int = QUEUE_LENGTH) -> None:
        self._queue: queue.Queue[_Guess] = queue.Queue(maxsize=queue_length)
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    def verify(self, password: str, stored: str) -> bool:
        """Does `password` match `stored`? Busy if too many are waiting or it takes too long."""
        with self._mutex:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="impsy-passwords", daemon=True)
                self._thread.start()
        guess = _Guess(password, stored)
        try:
            self._queue.put_nowait(guess)
        except queue.Full:
            raise Busy from None
        if not guess.done.wait(WAIT_LIMIT):
            raise Busy
        return guess.ok

    def _run(self) -> None:
        while True:
            guess = self._queue.get()
            try:
                guess.ok = verify_password(guess.password, guess.stored)
            finally:
                guess.done.set()


class Throttle:
    """Wrong passwords per peer in the last FAILURE_WINDOW seconds, and guesses in progress."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._checking: dict[str, int] = {}
        self._mutex = threading.Lock()

    def _forget_old(self, now: float) -> None:
        # Every peer's old failures go, so addresses that never come back are forgotten.
        self._failures = {
            peer: recent
            for peer, times in self._failures.items()
            if (recent := [t for t in times if now - t < FAILURE_WINDOW])
        }

    def throttled(self, peer: str) -> bool:
        with self._mutex:
            self._forget_old(self._clock())
            return len(self._failures.get(peer, ())) + self._checking.get(peer, 0) >= MAX_FAILURES

    def check(self, peer: str, attempt: Callable[[], bool]) -> bool:
        """Run `attempt` (one check of a password from `peer`) unless the peer is Throttled;
        a False answer counts as a wrong password, an exception (Busy) does not."""
        with self._mutex:
            self._forget_old(self._clock())
            if len(self._failures.get(peer, ())) + self._checking.get(peer, 0) >= MAX_FAILURES:
                raise Throttled
            self._checking[peer] = self._checking.get(peer, 0) + 1
        ok = None
        try:
            ok = attempt()
            return ok
        finally:
            with self._mutex:
                self._checking[peer] -= 1
                if not self._checking[peer]:
                    del self._checking[peer]
                if ok is False:
                    self._failures.setdefault(peer, []).append(self._clock())

"""Login sessions, kept by the server: a login cookie is only a random name for one of them.

Logging out ends the session here, so a copy of the cookie is worthless afterwards; a new
password (even the same one set again) ends every session made with the old one. Sessions live
in memory: restarting the web UI (or the instrument) logs everyone out.

Lifetimes: 12 hours without a request ends a session (a rehearsal or a gig is one sitting; the
next day, log in again), and 7 days ends it however busy it was (a cookie copied from a
borrowed laptop stops working within a week). A bounded number are kept: a flood of logins
pushes out the least recently used, never grows memory.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

IDLE_LIMIT = 12 * 3600.0
LIFETIME = 7 * 86400.0
MAX_SESSIONS = 64


@dataclass
class _Session:
    started: float
    seen: float
    password: str  # fingerprint of the password hash it was made with


class Sessions:
    """Thread-safe; `now` is wall-clock seconds (tests give their own)."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._mutex = threading.Lock()

    def start(self, password: str) -> str:
        """A new session for the password with this fingerprint; returns the cookie value."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        with self._mutex:
            self._sessions = {t: s for t, s in self._sessions.items() if self._alive(s, now)}
            while len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda t: self._sessions[t].seen)
                del self._sessions[oldest]
            self._sessions[token] = _Session(now, now, password)
        return token

    def valid(self, token: str | None, password: str) -> bool:
        """Is this a live session of the current password? Counts as use of it."""
        if not token:
            return False
        now = self._clock()
        with self._mutex:
            session = self._sessions.get(token)
            if session is None:
                return False
            if not self._alive(session, now) or not secrets.compare_digest(session.password, password):
                del self._sessions[token]
                return False
            session.seen = now
            return True

    def end(self, token: str | None) -> None:
        with self._mutex:
            self._sessions.pop(token or "", None)

    def __len__(self) -> int:
        return len(self._sessions)

    @staticmethod
    def _alive(session: _Session, now: float) -> bool:
        return now - session.seen < IDLE_LIMIT and now - session.started < LIFETIME

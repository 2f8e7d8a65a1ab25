"""Tell systemd how the service is doing (sd_notify), with no dependency.

The Pi image runs `impsy run` as a `Type=notify` service with a watchdog:
the runtime sends ``READY=1`` once it listens, ``WATCHDOG=1`` from its main
loop timer (so a hung loop is restarted) and ``STOPPING=1`` on shutdown.
Outside systemd (a laptop, the tests) ``$NOTIFY_SOCKET`` is unset and every
call is a cheap no-op that returns False.
"""

from __future__ import annotations

import os
import socket

__all__ = ["notify", "watchdog_period"]


def _address(raw: str) -> str | bytes | None:
    """The socket address in $NOTIFY_SOCKET: a path, or '@name' for the abstract namespace."""
    if raw.startswith("@"):
        # Linux abstract socket: the name starts with a NUL byte instead of '@'.
        return b"\0" + raw[1:].encode()
    if raw.startswith("/"):
        return raw
    return None  # vsock and other forms are not used on the Pi


def notify(message: str) -> bool:
    """Send one notification such as "READY=1"; True if it was handed to systemd."""
    address = _address(os.environ.get("NOTIFY_SOCKET", ""))
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        # A lost notification must never take the performance down with it.
        return False
    return True


def watchdog_period() -> float | None:
    """Seconds between WATCHDOG=1 pings (half the watchdog timeout), or None without a watchdog."""
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    # The watchdog is meant for another process (e.g. a parent that forked us).
    if pid and pid != str(os.getpid()):
        return None
    return usec / 2_000_000

"""A pretend serial instrument on a real pseudo-terminal, that can be unplugged and plugged in.

The test holds the pty's master end; IMPSY opens the slave through a symlink, as it would
open /dev/impsy/microbit (a udev symlink that disappears when the board is unplugged and
comes back, pointing at a new tty, when it is plugged in again).
"""

from __future__ import annotations

import os
from pathlib import Path


class PtyDevice:
    def __init__(self, link: Path, plugged: bool = True) -> None:
        self.link = link
        self.master: int | None = None
        self.received = bytearray()  # what IMPSY wrote to the device
        if plugged:
            self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        tty = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.link.symlink_to(tty)

    def unplug(self) -> None:
        """The cable is pulled: IMPSY's end reads end-of-file and the device name goes."""
        self.link.unlink()
        os.close(self.master)
        self.master = None

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read(self) -> bytes:
        """Everything IMPSY has written so far (non-blocking)."""
        while self.master is not None:
            try:
                chunk = os.read(self.master, 65536)
            except (BlockingIOError, OSError):  # nothing yet, or IMPSY's end is closed (EIO)
                break
            if not chunk:
                break
            self.received += chunk
        return bytes(self.received)

    def close(self) -> None:
        if self.master is not None:
            self.unplug()

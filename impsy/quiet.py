"""Keep C libraries' chatter off the user's terminal.

LiteRT prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` and ALSA prints
`ALSA lib seq_hw.c:...` straight to file descriptor 2 from C code, past Python's logging; neither
has a switch to turn it off (LiteRT 2.3 ignores TF_CPP_MIN_LOG_LEVEL). So fd 2 is pointed at a
temporary file around the calls that print them, the known noise is dropped (kept at debug
level), and anything else is written back to the real stderr: nothing else is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)

NOISE = re.compile(rb"^(INFO: Created TensorFlow Lite .*delegate|ALSA lib )")


@contextlib.contextmanager
def native_noise_filtered() -> Iterator[None]:
    """Run the block with C-level writes to stderr filtered (see the module docstring)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 to protect
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()  # Python's own writes of the block go back in order
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            _replay(capture.read())


def _replay(captured: bytes) -> None:
    kept = []
    for line in captured.splitlines(keepends=True):
        if NOISE.match(line):
            log.debug("native library said: %s", line.decode(errors="replace").rstrip())
        else:
            kept.append(line)
    if kept:
        with contextlib.suppress(OSError):
            os.write(2, b"".join(kept))

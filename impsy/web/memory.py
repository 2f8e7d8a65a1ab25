"""Keep the web UI's memory bounded under glibc's malloc.

What made it grow from 55 to 440 MB and never shrink: a thread per connection, and glibc gives
threads their own arenas (up to 8 per core); memory freed in an arena stays with it. And after
the first large block is freed (a 16 MB password hash, a dataset's arrays), glibc raises its
threshold for using mmap to that size, so later blocks of that size come from the arenas and
stay there too. Two arenas, and a fixed mmap threshold (large blocks go back to the system as
soon as they are freed), bound both; the server's fixed pool of threads (httpserver.py) does
the rest.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 256 * 1024


def bound_malloc() -> bool:
    """Set glibc's malloc up as described above; False where there is no glibc (macOS, musl).
    Call it before any thread starts."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    ok = bool(mallopt(M_ARENA_MAX, ARENAS)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    log.debug("malloc: %d arenas, mmap from %d bytes: %s", ARENAS, MMAP_THRESHOLD, ok)
    return ok

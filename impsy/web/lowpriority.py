"""Run a command at the lowest priority with a memory cap, where no systemd unit does it for us.

    python -m impsy.web.lowpriority --memory-mb 300 -- COMMAND [ARGS...]

sets nice 19, the idle I/O class (Linux) and a data-size limit on itself, then becomes COMMAND
(exec). A training run started by a laptop's web UI this way yields the CPU and the disk to
`impsy run`, and one that needs more than the cap fails with MemoryError instead of pushing the
machine into swap. A trampoline rather than Popen's preexec_fn: that is unsafe in the web UI's
threads. Standard library only, so it starts in a moment.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import sys

LOWEST_NICE = 19
IOPRIO_CLASS_IDLE = 3
IOPRIO_CLASS_SHIFT = 13
IOPRIO_WHO_PROCESS = 1
# ioprio_set has no wrapper in libc or Python; its number differs between architectures.
IOPRIO_SET = {"x86_64": 251, "aarch64": 30, "armv7l": 314, "armv6l": 314, "i686": 289}


def lowpriority_command(command: list[str], memory_mb: int) -> list[str]:
    """`command` wrapped so that it runs at the lowest priority with at most `memory_mb` of data."""
    return [sys.executable, "-m", "impsy.web.lowpriority", "--memory-mb", str(memory_mb), "--", *command]


def lower_cpu_priority() -> None:
    os.nice(max(0, LOWEST_NICE - os.nice(0)))


def idle_io_priority() -> bool:
    """Put this process in the idle I/O class (only disk time nobody else wants); False where
    the system has no such thing (not Linux, or an architecture we have no number for)."""
    number = IOPRIO_SET.get(platform.machine()) if sys.platform.startswith("linux") else None
    if number is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(number, IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) == 0


def cap_memory(megabytes: int) -> None:
    """Limit the data segment and private mappings (RLIMIT_DATA, Linux 4.7+): an allocation past
    it fails (MemoryError in Python) rather than the machine swapping."""
    import resource

    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m impsy.web.lowpriority", description=__doc__)
    parser.add_argument("--memory-mb", type=int, required=True, help="the cap on data memory, in MB")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --")
    lower_cpu_priority()
    idle_io_priority()
    cap_memory(args.memory_mb)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"impsy: error: cannot run {command[0]}: {error.strerror}", file=sys.stderr)
        return 127
    return 0  # pragma: no cover (execvp does not return)


if __name__ == "__main__":
    sys.exit(main())

"""`impsy webui`: its options at work (password, restart command) and serving the web UI
(httpserver.py has the server itself)."""

from __future__ import annotations

import argparse
import getpass
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path
from wsgiref.simple_server import make_server

from impsy.notify import notify
from impsy.web.httpserver import IPv6PooledWSGIServer, PooledWSGIServer, QuietHandler
from impsy.web.memory import bound_malloc
from impsy.web.options import default_restart_command

log = logging.getLogger("impsy.web")


def password_file(args: argparse.Namespace) -> Path:
    return args.password_file or Path(args.workdir) / ".webui" / "password"


def set_password(args: argparse.Namespace) -> int:
    from impsy.web.passwords import write_password_hash

    path = password_file(args)
    if sys.stdin.isatty():
        first = getpass.getpass("New web UI password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            print("impsy webui: the two passwords differ; nothing changed", file=sys.stderr)
            return 1
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 4:
        print("impsy webui: use at least 4 characters; nothing changed", file=sys.stderr)
        return 1
    write_password_hash(path, first)
    # The web UI reads the file at every request: no restart needed.
    print(f"password set (its hash is in {path}); it applies at once, and everyone logs in again")
    return 0


def clear_password(args: argparse.Namespace) -> int:
    path = password_file(args)
    try:
        path.unlink()
    except FileNotFoundError:
        print("there was no password")
        return 0
    print(f"password removed ({path}): the web UI is open to anyone who can reach it")
    return 0


def restart_command(args: argparse.Namespace) -> list[str]:
    text = args.restart_command if args.restart_command is not None else default_restart_command()
    return shlex.split(text)


def build(args: argparse.Namespace):
    """The WebUI object for these options (the link to `impsy run` not yet started)."""
    from impsy.web.app import create_app
    from impsy.web.paths import Workdir
    from impsy.web.settings import Settings

    workdir = Workdir.at(args.workdir)
    return create_app(
        Settings(
            workdir=workdir,
            restart_command=restart_command(args),
            trainer=trainer(args, workdir),
            password_file=password_file(args),
            allowed_hosts=tuple(args.allow_host or ()),
        )
    )


def trainer(args: argparse.Namespace, workdir):
    """How impsy-train runs: the systemd unit named by --train-unit, else a child process."""
    from impsy.web.trainer import ChildTrainer, UnitTrainer

    if not args.train_unit:
        return ChildTrainer()
    # The unit reads its arguments from, and writes its output to, these files (impsy-train.service).
    return UnitTrainer(args.train_unit, workdir.state / "train.args", workdir.state / "train.out")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C. The lead wires this to `impsy webui`."""
    if args.set_password:
        return set_password(args)
    if args.clear_password:
        return clear_password(args)
    workdir = Path(args.workdir)
    if not workdir.is_dir():
        print(
            f"impsy webui: error: {workdir}: no such folder (make one with `impsy init {workdir}`)",
            file=sys.stderr,
        )
        return 1
    bound_malloc()  # before any thread starts
    # SIGTERM is handled from before the port is bound: the port accepts connections as soon as
    # it listens, and a stop asked for then must still end the way any stop does.
    server = None
    stopping = threading.Event()

    def stop(signum, frame) -> None:
        stopping.set()
        if server is not None:
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    ui = build(args)
    server_class = IPv6PooledWSGIServer if ":" in args.host else PooledWSGIServer
    try:
        server = make_server(
            args.host, args.port, ui.app, server_class=server_class, handler_class=QuietHandler
        )
    except OSError as error:
        print(
            f"impsy webui: error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr
        )
        return 1
    ui.link.start()
    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    log.info(
        "IMPSY web UI on http://%s:%d (folder %s); listening for `impsy run` on 127.0.0.1:%d",
        shown,
        server.server_port,
        ui.workdir.root,
        ui.link.monitor_port,
    )
    notify("READY=1")
    try:
        if not stopping.is_set():
            server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        notify("STOPPING=1")
        server.server_close()
        ui.link.stop()
    return 0


def main(args: argparse.Namespace) -> int:
    """For `python -m impsy.web`: logging like `impsy`'s, then run()."""
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    return run(args)

"""The options of `impsy webui`. Imported by every `impsy` invocation: keep it light."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_PORT = 4000
SYSTEMD_RESTART = "systemctl --no-ask-password restart impsy-run.service"


def default_restart_command() -> str:
    """Restart through systemd only when systemd runs us ($INVOCATION_ID is set for services)."""
    return SYSTEMD_RESTART if os.environ.get("INVOCATION_ID") else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `impsy webui` options to a (sub)parser."""
    parser.add_argument(
        "--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0, every interface)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("."),
        help="the folder with config.toml, logs/, datasets/ and models/ (default: here)",
    )
    parser.add_argument(
        "--restart-command",
        default=None,
        metavar="COMMAND",
        help="command that restarts `impsy run` for the Restart page "
        f"(default under systemd: {SYSTEMD_RESTART!r}; elsewhere none, and the page says how)",
    )
    password = parser.add_mutually_exclusive_group()
    password.add_argument(
        "--set-password",
        action="store_true",
        help="ask for a password for the web UI, store it hashed, and exit",
    )
    password.add_argument("--clear-password", action="store_true", help="remove the web UI password and exit")
    parser.add_argument(
        "--password-file",
        type=Path,
        default=None,
        help="where the password hash is kept (default: WORKDIR/.webui/password)",
    )
    parser.add_argument(
        "--train-unit",
        default=None,
        metavar="UNIT",
        help="train through this systemd unit (the appliance's impsy-train.service, which caps "
        "memory and priority) instead of a child process at nice 19 with a 300 MB cap (default)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (IP addresses, localhost, *.local and this "
        "machine's name are always answered; other names are refused against DNS rebinding)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="impsy webui", description="Serve IMPSY's web UI: configuration, logs, models, live monitor."
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug messages")
    add_arguments(parser)
    return parser

"""The `impsy` command: run, init, check, check-config, dataset, midi-ports, webui."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from impsy import __version__
from impsy.dataset import (
    DEFAULT_MAX_GAP,
    DatasetError,
    build_dataset,
    dataset_filename,
    dimensions_in,
)
from impsy.model import ModelError

log = logging.getLogger("impsy")

# Errors a user can fix; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (ModelError, DatasetError, OSError, ValueError)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `impsy dataset` (also offered by `impsy-train dataset`)."""
    parser.add_argument("-D", "--dimension", type=int, help="only logs of this dimension (default: every dimension found)")
    parser.add_argument("--logs", default="logs", type=Path, help="folder of .log files (default: logs)")
    parser.add_argument("--out", default="datasets", type=Path, help="folder for the dataset (default: datasets)")
    parser.add_argument(
        "--max-gap", type=float, default=DEFAULT_MAX_GAP,
        help=f"a pause longer than this many seconds ends a gesture (default: {DEFAULT_MAX_GAP:g})",
    )


def run_dataset(args: argparse.Namespace) -> int:
    """Build one dataset per dimension from the logs and print what is in each."""
    dims = [args.dimension] if args.dimension else dimensions_in(args.logs)
    if not dims:
        raise DatasetError(f"{args.logs}: no IMPSY logs (*-<D>d-mdrnn.log) found")
    for dimension in dims:
        dataset, report = build_dataset(args.logs, dimension, args.max_gap)
        if not len(dataset.events):
            raise DatasetError(f"{args.logs}: no performer events in {dimension}d logs")
        path = dataset.save(args.out / dataset_filename(dimension))
        print(f"{path}: {dataset.summary()}")
        if report.skipped:
            print(f"  skipped {report.skipped} malformed rows, for example:")
            for problem in report.problems[:3]:
                print(f"    {problem}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="impsy", description="IMPSY, the Interactive Musical Prediction SYstem."
    )
    parser.add_argument("--version", action="version", version=f"impsy {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dataset = commands.add_parser("dataset", help="build a training dataset from the logs")
    add_dataset_arguments(dataset)
    dataset.set_defaults(handler=run_dataset)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(parser.prog, args.handler, args)


def run_command(
    prog: str,
    handler: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
    errors: tuple[type[Exception], ...] = USER_ERRORS,
) -> int:
    """Run a command; a user's error is one friendly line unless --debug."""
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s: %(message)s" if not args.debug else "%(levelname)s %(name)s: %(message)s",
    )
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except errors as error:
        if args.debug:
            raise
        print(f"{prog}: error: {describe(error)}", file=sys.stderr)
        return 1


def describe(error: Exception) -> str:
    """A user-facing line for an error: OS errors name their file without the errno noise."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


if __name__ == "__main__":
    sys.exit(main())

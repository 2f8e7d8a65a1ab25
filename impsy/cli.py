"""The `impsy` command."""

from __future__ import annotations

import argparse
import logging
import sys

from impsy import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="impsy", description=__doc__)
    parser.add_argument("--version", action="version", version=f"impsy {__version__}")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    return 0


if __name__ == "__main__":
    sys.exit(main())

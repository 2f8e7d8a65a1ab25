"""`python -m impsy.web`: the same as `impsy webui`, before and besides the main command."""

import sys

from impsy.web.options import build_parser
from impsy.web.server import main

sys.exit(main(build_parser().parse_args()))

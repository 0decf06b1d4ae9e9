"""``python -m convolab``: the command line of :mod:`convolab.cli`.

The console script ``convolab`` points here too (``convolab.__main__:main``);
the parser and every subcommand live in :mod:`convolab.cli`.

Examples
--------
>>> from convolab.__main__ import build_parser
>>> build_parser().parse_args(["demo", "--repeats", "3"]).repeats
3
"""

from __future__ import annotations

import sys

from .cli import build_parser, main

__all__ = ["main", "build_parser"]

if __name__ == "__main__":
    sys.exit(main())

"""The ``convolab`` command line: ``python -m convolab demo``.

Subcommands
    ``demo``: compute the seed documents' worked examples with every
    algorithm, check them, time the algorithms, and print the report
    (:mod:`convolab.demo`).
    ``calibrate``: measure the planner's cost-model constants on this
    machine and store them in the user's cache directory.

Exit codes: 0 success, 1 failure (one line on stderr), 2 bad usage.

Examples
--------
>>> from convolab.__main__ import build_parser
>>> build_parser().parse_args(["demo", "--repeats", "3"]).repeats
3
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convolab`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="convolab",
        description="Convolution and cross-correlation, computed every way the field uses them.")
    parser.add_argument("--version", action="version", version=f"convolab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="the seed documents' worked examples, computed, checked and timed",
        description="Compute the seed documents' worked examples with every algorithm, "
                    "check them against each other, and time the algorithms.")
    demo.add_argument("--repeats", type=_positive_int, default=5, metavar="N",
                      help="timed runs per algorithm; the median is shown (default 5)")
    demo.add_argument("--no-timings", action="store_true",
                      help="skip the timing section")
    demo.add_argument("--no-plan", action="store_true",
                      help="leave out the planner's printed explanation")
    demo.set_defaults(handler=_demo)
    calibrate = commands.add_parser(
        "calibrate", help="measure the planner's cost-model constants on this machine",
        description="Time each algorithm on a problem where one cost-model constant dominates, "
                    "fit the constants and store them in the user's cache directory, where "
                    "the planner reads them (shipped defaults otherwise).")
    calibrate.add_argument("--repeats", type=_positive_int, default=3, metavar="N",
                           help="timed runs per probe; the best counts (default 3)")
    calibrate.add_argument("--dry-run", action="store_true",
                           help="measure and print, but do not store")
    calibrate.set_defaults(handler=_calibrate)
    return parser


def _calibrate(args: argparse.Namespace) -> int:
    from . import _calibration

    result = _calibration.calibrate(repeats=args.repeats, write=not args.dry_run)
    print(f"{'constant':<22}{'estimated':>12}{'measured':>12}{'new value':>12}")
    for name, (estimated, measured) in result["measured"].items():
        print(f"{name:<22}{estimated * 1e3:>10.2f}ms{measured * 1e3:>10.2f}ms"
              f"{result['constants'][name]:>12.3g}")
    where = "not stored (--dry-run)" if args.dry_run else f"stored in {result['path']}"
    print(f"constants {where}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    report = demo.run(repeats=args.repeats,
                      timing_cases=None if args.no_timings else demo.TIMING_CASES)
    print(demo.render(report, plans=not args.no_plan))
    failures = report.failures()
    if failures:
        print(f"convolab demo: {len(failures)} check(s) failed: {failures[0]}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convolab`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit code: 0 success, 1 failure (with one line on stderr),
    2 bad usage (argparse's message on stderr).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:        # --help, --version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("convolab: error: a command is required (try: convolab demo)", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("convolab: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:         # one line, not a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"convolab {args.command}: error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The ``kameleoon-pandas`` command: ``serve`` (the local Data API), ``demo`` (the report).

``serve`` takes the emulator's own command line (:mod:`kameleoon_pandas.emulator.args`), so its
flags and defaults are those of ``python -m kameleoon_pandas.emulator``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``kameleoon-pandas`` parser: ``serve``, ``demo`` and ``--version``."""
    from .emulator.args import DESCRIPTION, HelpFormatter, add_serve_arguments, non_negative_int

    parser = argparse.ArgumentParser(
        prog="kameleoon-pandas",
        description="The Kameleoon Data API in pandas and Jupyter: local emulator and demo report.",
    )
    parser.add_argument("--version", action="version", version=f"kameleoon-pandas {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # The emulator's own flags (one per EmulatorOptions field, its defaults), as
    # `python -m kameleoon_pandas.emulator` takes them.
    serve = commands.add_parser(
        "serve",
        help="run the local Data API (the emulator) until interrupted",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_serve_arguments(serve)

    demo = commands.add_parser(
        "demo",
        help="seed a local emulator, run the report notebook against it and write the HTML report",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--out", default="reports", help="output directory")
    demo.add_argument(
        "--seed-number",
        type=non_negative_int,
        default=0,
        help="random seed of the demo data (an integer >= 0)",
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .emulator.args import run

    return run(args, prog="kameleoon-pandas serve")


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # written by the notebooks room; imported only when asked for

    out = Path(args.out).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"{str(out)!r} is not writable")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"kameleoon-pandas demo: cannot write the report to --out {args.out}: {reason}",
            file=sys.stderr,
        )
        return 2
    path = run_demo(out_dir=out, random_seed=args.seed_number, progress=True)
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kameleoon-pandas`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())

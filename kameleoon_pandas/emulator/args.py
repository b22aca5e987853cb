"""The command line of ``python -m kameleoon_pandas.emulator`` and ``kameleoon-pandas serve``.

Both use :func:`add_serve_arguments` and :func:`run`, so the two commands take the same flags: one
per :class:`~.options.EmulatorOptions` field (``token_ttl``: ``--token-ttl``), with the
dataclass's defaults and help texts, plus where to listen and what data to start with.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sqlite3
import sys
import threading
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from .faults import ACCESS_LOGGER
from .options import EmulatorOptions
from .seed import DATA_SETS, DEMO_SITE_CODES
from .server import DEFAULT_DB, DEFAULT_HOST, DEFAULT_PORT, EmulatorServer

PROG = "python -m kameleoon_pandas.emulator"
DESCRIPTION = "Run the local Data API (every endpoint plus /oauth/token) until Ctrl-C."


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default in ``--help``, except a default of None (nothing to show)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        if isinstance(action.default, tuple):  # a list flag: shown as it is typed
            return f"{action.help} (default: {','.join(action.default) or 'none'})"
        return super()._get_help_string(action)


def _bounded(kind: type, low: float | None, high: float | None) -> Callable[[str], Any]:
    """An argparse ``type`` reading ``kind`` within ``[low, high]`` (bounds optional)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):  # float("nan"), float("inf"): never an option's value
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} must be between {low:g} and {high:g}")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text!r} must be <= {high:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


#: An argparse ``type`` for an integer >= 0 (``--seed-number``).
non_negative_int = _bounded(int, 0, None)


def _choice_list(choices: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """An argparse ``type`` reading a comma-separated list of ``choices`` (may be empty)."""

    def parse(text: str) -> tuple[str, ...]:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        unknown = [item for item in items if item not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(map(repr, unknown))}; choose from {','.join(choices)}"
            )
        return tuple(dict.fromkeys(items))

    parse.__name__ = "list"
    return parse


def add_option_arguments(parser: argparse.ArgumentParser | Any) -> None:
    """Add one flag per :class:`EmulatorOptions` field, with its default and help text.

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where the flags go. A ``bool`` field is a switch (``--strict``); a number is checked
        against the bounds in the field's metadata.
    """
    hints = typing.get_type_hints(EmulatorOptions)
    for f in fields(EmulatorOptions):
        if f.default is MISSING:  # pragma: no cover - every option has a default
            raise TypeError(f"EmulatorOptions.{f.name} needs a default to be a flag")
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        text = f.metadata.get("help")
        if kind is bool:
            action: Any = "store_true" if f.default is False else argparse.BooleanOptionalAction
            parser.add_argument(flag, action=action, default=f.default, help=text)
        elif kind in (int, float):
            low, high = f.metadata.get("low"), f.metadata.get("high")
            parser.add_argument(flag, type=_bounded(kind, low, high), default=f.default, help=text)
        elif typing.get_origin(kind) is tuple:
            # A comma-separated list (``--faults 429,lost-ack``), each item one of the choices.
            parser.add_argument(
                flag,
                type=_choice_list(f.metadata["choices"]),
                default=f.default,
                metavar="KIND[,KIND...]",
                help=text,
            )
        else:
            parser.add_argument(flag, type=kind, default=f.default, help=text)


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every flag of the emulator's command line to ``parser``; return it.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser (or subcommand parser) to fill. Give it
        ``formatter_class=HelpFormatter`` to show the defaults.

    Returns
    -------
    argparse.ArgumentParser
        ``parser``, whose namespace :func:`run` takes.
    """
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind")
    parser.add_argument(
        "--port",
        type=_bounded(int, 0, 65535),
        default=DEFAULT_PORT,
        help="port (0 = any free port)",
    )
    parser.add_argument(
        "--db", default=DEFAULT_DB, help="SQLite file that keeps the data across restarts"
    )
    parser.add_argument(
        "--seed",
        choices=DATA_SETS,
        default=None,
        help=f"write the demo data set (site codes {', '.join(DEMO_SITE_CODES)})",
    )
    parser.add_argument(
        "--seed-number",
        type=non_negative_int,
        default=0,
        help="random seed of the demo data (an integer >= 0)",
    )
    add_option_arguments(parser.add_argument_group("behaviour (EmulatorOptions fields)"))
    return parser


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The emulator's own argument parser, defaults shown in ``--help``.

    Parameters
    ----------
    prog : str, optional
        The program name shown in usage and error lines.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["--port", "0", "--strict"])
    >>> args.port, args.strict, args.token_ttl
    (0, True, 3600.0)
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    return add_serve_arguments(parser)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _unusable_db(db: str) -> str | None:
    """Why the database file ``db`` cannot be opened or created, or None when it can."""
    if db == ":memory:":
        return None
    path = Path(db).expanduser()
    if path.is_dir():
        return "it is a folder, not a file"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {str(folder)!r} does not exist"
    if path.exists():
        return (
            None if os.access(path, os.R_OK | os.W_OK) else "the file is not readable and writable"
        )
    return None if os.access(folder, os.W_OK) else f"the folder {str(folder)!r} is not writable"


def run(args: argparse.Namespace, *, prog: str = PROG) -> int:
    """Serve in the foreground until Ctrl-C or SIGTERM, as ``args`` (from :func:`build_parser`) say.

    Prints the URLs, credentials, site codes and the ``export`` lines that point a client at it.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser that :func:`add_serve_arguments` filled.
    prog : str, optional
        Names the command in error messages.

    Returns
    -------
    int
        The exit status: 0 after a normal stop, 1 when the address cannot be bound.
    """
    from .server import run_foreground

    problem = _unusable_db(args.db)
    if problem:
        print(f"{prog}: cannot use --db {args.db}: {problem}", file=sys.stderr)
        return 2

    def announce(server: EmulatorServer) -> None:
        lines = [
            f"Kameleoon Data API emulator on {server.url}",
            *(
                [f"  listening on   {args.host}:{server.port} (every interface)"]
                if args.host in ("0.0.0.0", "::", "")
                else []
            ),
            f"  token URL      {server.token_url}",
            f"  client id      {server.client_id}",
            f"  client secret  {server.client_secret}",
            f"  site codes     {', '.join(server.site_codes)}",
            f"  database       {args.db}",
            "Point a client at it with:",
            *(f"  export {name}={value}" for name, value in server.env().items()),
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)

    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager, `kill`) stops as cleanly as Ctrl-C does.
        previous = signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # errors on stderr
    access = _print_access_log() if args.access_log else None
    try:
        run_foreground(
            db=args.db,
            seed=args.seed,
            random_seed=args.seed_number,
            port=args.port,
            host=args.host,
            on_ready=announce,
            # Every EmulatorOptions field has the flag of the same name (--token-ttl: token_ttl).
            **{name: getattr(args, name) for name in EmulatorOptions.field_names()},
        )
    except sqlite3.Error as exc:
        print(f"{prog}: cannot use --db {args.db}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully, then re-raises the signal it caught: a normal stop.
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if access is not None:
            logger, handler = access
            logger.removeHandler(handler)
    try:
        print("Stopped.", flush=True)
    except BrokenPipeError:
        # Whoever read our output has gone (`| head`, a closed pipe): nothing is lost. Point
        # stdout at /dev/null, or Python reports the same failure again when it flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _print_access_log() -> tuple[logging.Logger, logging.Handler]:
    """Send the access log (one line per request) to stdout, flushed line by line."""
    logger = logging.getLogger(ACCESS_LOGGER)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # not twice (the root logger writes warnings on stderr)
    return logger, handler


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kameleoon_pandas.emulator [flags]``; returns the exit status."""
    return run(build_parser().parse_args(argv))

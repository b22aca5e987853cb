"""The ``kameleoon-pandas`` command: ``serve`` (the local Data API) and ``demo`` (the report)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def _non_negative(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
        return value

    return parse


def _rate(text: str) -> float:
    value = _non_negative(float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kameleoon-pandas",
        description="The Kameleoon Data API in pandas and Jupyter: local emulator and demo report.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the local Data API (the emulator) until interrupted",
        description="Run the local Data API (every endpoint plus /oauth/token) until Ctrl-C.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=_non_negative(int),
        default=8787,
        help="port (default 8787; 0 = any free port)",
    )
    serve.add_argument(
        "--db",
        default=":memory:",
        help="SQLite file to keep data across restarts (default: in memory)",
    )
    serve.add_argument(
        "--seed",
        choices=["demo"],
        default=None,
        help="write the demo data set (site codes demosite01, demosite02)",
    )
    serve.add_argument(
        "--seed-number", type=int, default=0, help="random seed of the demo data (default 0)"
    )
    serve.add_argument(
        "--require-auth",
        action="store_true",
        help="answer 401 to Data API calls without a bearer token",
    )
    serve.add_argument(
        "--strict",
        action="store_true",
        help="answer 400 to a bad event line instead of dropping it",
    )
    serve.add_argument(
        "--latency-ms",
        type=_non_negative(float),
        default=0.0,
        help="latency added to every request",
    )
    serve.add_argument(
        "--fault-rate",
        type=_rate,
        default=0.0,
        help="fraction of calls answered 429, 500 or dropped",
    )
    serve.add_argument(
        "--token-ttl", type=_non_negative(float), default=3600.0, help="token lifetime in seconds"
    )
    serve.add_argument(
        "--client-id", default="demo-client", help="client id accepted by /oauth/token"
    )
    serve.add_argument(
        "--client-secret", default="demo-secret", help="client secret accepted by /oauth/token"
    )
    serve.add_argument(
        "--max-event-body",
        type=_non_negative(int),
        default=3_000_000,
        help="byte limit of event bodies",
    )
    serve.add_argument(
        "--max-small-body",
        type=_non_negative(int),
        default=1_000_000,
        help="byte limit of forget and map bodies",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")

    demo = commands.add_parser(
        "demo",
        help="seed a local emulator, run the report notebook against it and write the HTML report",
    )
    demo.add_argument("--out", default="reports", help="output directory (default ./reports)")
    demo.add_argument(
        "--seed-number", type=int, default=0, help="random seed of the demo data (default 0)"
    )
    return parser


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _serve(args: argparse.Namespace) -> int:
    from .emulator.options import EmulatorOptions
    from .emulator.server import run_foreground

    def announce(server: Any) -> None:
        lines = [
            f"Kameleoon Data API emulator on {server.url}",
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
    logging.basicConfig(
        level=logging.INFO if args.access_log else logging.WARNING, format="%(message)s"
    )
    try:
        run_foreground(
            db=args.db,
            seed=args.seed,
            random_seed=args.seed_number,
            port=args.port,
            host=args.host,
            on_ready=announce,
            access_log=args.access_log,
            # Every EmulatorOptions field has the flag of the same name (--token-ttl: token_ttl).
            **{name: getattr(args, name) for name in EmulatorOptions.field_names()},
        )
    except OSError as exc:
        print(
            f"kameleoon-pandas serve: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully, then re-raises the signal it caught: a normal stop.
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("Stopped.", flush=True)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # written by the notebooks room; imported only when asked for

    path = run_demo(out_dir=Path(args.out), random_seed=args.seed_number, progress=True)
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

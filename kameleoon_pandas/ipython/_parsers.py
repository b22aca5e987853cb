"""The argument parsers of ``%kam``'s subcommands (``%kam SUBCOMMAND --help`` prints them).

One builder per subcommand, in :data:`PARSERS`; the magic builds each on first use (``serve``
imports the emulator's flags, so only when asked).
"""

from __future__ import annotations

import argparse
import keyword
import textwrap
from collections.abc import Callable

from . import _parsing
from ._parsing import MagicParser

__all__ = ["PARSERS", "PUSH_KINDS", "SUBCOMMANDS", "TAKES_CELL", "overview"]

#: The subcommands and their one-line summaries (``%kam --help``).
SUBCOMMANDS = {
    "counters": "views, add-to-cart and bought quantities per EAN (read_product_counters)",
    "products": "the products' stored attributes (read_product_data)",
    "feed": "visitors' activity, one row per event (read_visitor_feeds)",
    "maps": "stored maps, one row per key (read_maps)",
    "push": "push events|products|maps DF: a DataFrame into the API (push_*)",
    "forget": "delete visitors' data (forget_visitors)",
    "serve": "start (--stop: stop) a local emulator and point the session at it",
    "sites": "the site codes of the session's default client",
    "panel": "panel counters|feed: an interactive panel (CountersPanel, VisitorFeedPanel)",
    "cache": "cache [status|on|off|clear]: the default client's cache of GET answers",
}
PUSH_KINDS = ("events", "products", "maps")

#: The subcommands that take their list from a ``%%kam`` cell body.
TAKES_CELL = frozenset({"counters", "products", "feed", "maps", "forget", "panel"})


def overview() -> str:
    """The text of ``%kam --help``."""
    width = max(map(len, SUBCOMMANDS))
    lines = ["usage: %kam SUBCOMMAND [ARGUMENTS] [-o NAME]   (%%kam: one item per cell line)", ""]
    lines += [f"  {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items()]
    lines += ["", "`%kam SUBCOMMAND --help` describes one; `%kam?` shows the whole reference."]
    return "\n".join(lines)


def _new(name: str, description: str, example: str) -> MagicParser:
    text = "\n".join(textwrap.fill(paragraph, 88) for paragraph in description.split("\n"))
    return MagicParser(f"%kam {name}", text, epilog=f"example:\n  {example}")


def _common(parser: MagicParser, *, site: bool = True, progress: bool = True) -> None:
    parser.add_argument(
        "-o", "--output", metavar="NAME", type=_identifier, help="store the result in NAME"
    )
    if site:
        parser.add_argument("--site", metavar="CODE", help="the site code of this call")
        parser.add_argument(
            "--client", metavar="NAME", help="a variable holding the kp.Client to call through"
        )
    if progress:
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="force the progress bar on or off (default: KameleoonMagics.progress)",
        )


def _items_parser(name: str, what: str, description: str, example: str) -> MagicParser:
    parser = _new(name, description, example)
    parser.add_argument(
        "items",
        nargs="*",
        metavar=what,
        help=f"{what}: $variable, a variable's name, a,b,c or 'a b c' (%%%%kam: one per line)",
    )
    _common(parser)
    return parser


def _counters() -> MagicParser:
    parser = _items_parser(
        "counters",
        "EANS",
        "Views, add-to-cart and bought quantities per EAN and time window: "
        "kp.read_product_counters.\nTimes: " + _parsing.TIME_HELP + ".",
        "%kam counters $eans --start 7d --end now --freq 1D -o counters",
    )
    parser.add_argument("--start", metavar="TIME", help="start of the range (default 24h)")
    parser.add_argument("--end", metavar="TIME", help="end of the range (default now)")
    parser.add_argument("--freq", help="split into windows of a pandas frequency: 1h, 1D, W")
    parser.add_argument(
        "--no-align",
        dest="align",
        action="store_false",
        help="cut windows from --start instead of on the frequency's grid",
    )
    return parser


def _products() -> MagicParser:
    return _items_parser(
        "products",
        "EANS",
        "The products' stored attributes, one row per EAN: kp.read_product_data.",
        "%kam products SKU-1,SKU-2",
    )


def _maps() -> MagicParser:
    return _items_parser(
        "maps",
        "KEYS",
        "Stored maps, one row per key: kp.read_maps.",
        "%kam maps crm:42,crm:43 -o maps",
    )


def _feed() -> MagicParser:
    parser = _items_parser(
        "feed",
        "VISITORS",
        "Visitors' activity feeds, one row per event: kp.read_visitor_feeds.",
        "%kam feed $visitors --previous 3 --kinds conversion,page -o feed",
    )
    parser.add_argument(
        "--previous", metavar="N", type=int, help="previous visits to read (0..25; default 25)"
    )
    parser.add_argument("--kinds", metavar="K1,K2", help="only these kinds: page,conversion,…")
    parser.add_argument(
        "--no-current", dest="current_visit", action="store_false", help="skip current visit"
    )
    parser.add_argument(
        "--by",
        choices=("visitor_code", "mapping_value"),
        help="what VISITORS holds (default visitor_code)",
    )
    return parser


def _push_parser(kind: str, description: str, example: str) -> MagicParser:
    parser = _new(f"push {kind}", description, example)
    parser.add_argument("frame", metavar="DF", help="the DataFrame: a variable's name or $name")
    if kind != "maps":
        parser.add_argument(
            "renames",
            nargs="*",
            metavar="NAME=COLUMN",
            help="renames: the schema's NAME is the frame's COLUMN (goal_id=goal)",
        )
        parser.add_argument("--kind", help="the kind of every row (default: a kind column)")
        parser.add_argument(
            "--key", metavar="COL[,COL]", help="the columns that identify an event (nonces)"
        )
    else:
        parser.add_argument(
            "--key-column", metavar="COLUMN", help="the column of map keys (default key)"
        )
        parser.add_argument(
            "--ttl-hours", metavar="N", type=int, help="how long the maps live (1..8784)"
        )
    parser.add_argument("--dry-run", action="store_true", help="only validate; send nothing")
    parser.add_argument(
        "--check",
        action="store_true",
        help="raise PushError unless every row was valid and sent (report.raise_for_failures)",
    )
    _common(parser)
    return parser


def _push_events() -> MagicParser:
    return _push_parser(
        "events",
        "Push visit events, one per row: kp.push_events. Returns the PushReport.",
        "%kam push events orders --kind conversion --key order_id goal_id=goal --dry-run",
    )


def _push_products() -> MagicParser:
    return _push_parser(
        "products",
        "Push product events, one per row: kp.push_product_events. Returns the PushReport.",
        "%kam push products sales --kind purchase ean=sku",
    )


def _push_maps() -> MagicParser:
    return _push_parser(
        "maps",
        "Merge one map per row into the maps: kp.push_maps. Returns the PushReport.",
        "%kam push maps tiers --key-column id --ttl-hours 24",
    )


def _forget() -> MagicParser:
    parser = _new(
        "forget",
        "Delete every visit and event of these visitors: kp.forget_visitors. "
        "Returns the PushReport.",
        "%kam forget churned --column visitor_code --dry-run",
    )
    parser.add_argument(
        "codes",
        nargs="*",
        metavar="DF|VISITORS",
        help="a DataFrame's name, or visitor codes as for %%kam feed",
    )
    parser.add_argument(
        "--column", metavar="COLUMN", help="the DataFrame's column of codes (visitor_code)"
    )
    parser.add_argument("--dry-run", action="store_true", help="only validate; send nothing")
    parser.add_argument("--check", action="store_true", help="raise unless every code went")
    _common(parser)
    return parser


def _serve() -> MagicParser:
    from ..emulator.args import add_option_arguments
    from ..emulator.seed import DATA_SETS

    parser = _new(
        "serve",
        "Start a local Data API (the emulator) in this kernel and point the session's "
        "default client at it, until `%kam serve --stop` or the kernel ends. Returns the "
        "server (url, site_codes, state, ...).",
        "%kam serve --seed demo -o srv",
    )
    parser.add_argument("--stop", action="store_true", help="stop the running emulator")
    parser.add_argument("--seed", choices=DATA_SETS, help="write the demo data set")
    parser.add_argument(
        "--seed-number",
        "--random-seed",
        dest="seed_number",
        type=int,
        default=0,
        help="random seed of the demo data (default 0)",
    )
    parser.add_argument("--db", default=":memory:", help="SQLite file that keeps the data")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    add_option_arguments(parser.add_argument_group("behaviour (EmulatorOptions fields)"))
    _common(parser, site=False, progress=False)
    return parser


def _sites() -> MagicParser:
    parser = _new(
        "sites",
        "The site codes of the session's default client (or --client), the default first.",
        "%kam sites",
    )
    parser.add_argument("--client", metavar="NAME", help="a variable holding the kp.Client to ask")
    parser.add_argument(
        "-o", "--output", metavar="NAME", type=_identifier, help="store the result in NAME"
    )
    return parser


def _panel() -> MagicParser:
    parser = _new(
        "panel",
        "An interactive panel: counters (kp.panels.CountersPanel, EANs optional) or feed "
        "(kp.panels.VisitorFeedPanel, one visitor optional).",
        "%kam panel counters $eans",
    )
    parser.add_argument("which", choices=("counters", "feed"), help="the panel")
    parser.add_argument("items", nargs="*", metavar="EANS|VISITOR", help="to fill in")
    _common(parser, progress=False)
    return parser


def _cache() -> MagicParser:
    parser = _new(
        "cache",
        "The opt-in cache of GET answers of the session's default client: status (the "
        "default), on / off (rebuild the default client with or without it, keeping its "
        "other settings), clear (drop every stored answer).",
        "%kam cache on --ttl 600",
    )
    parser.add_argument(
        "action", nargs="?", default="status", choices=("status", "on", "off", "clear")
    )
    parser.add_argument("--path", help="with on: the SQLite file (default in ~/.cache)")
    parser.add_argument("--ttl", type=float, help="with on: seconds an answer is served")
    return parser


def _identifier(text: str) -> str:
    """An argparse ``type``: a valid Python name for ``-o``."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Python variable name")
    return text


#: The builder of each subcommand's parser (``push`` is ``push events`` etc.).
PARSERS: dict[str, Callable[[], MagicParser]] = {
    "counters": _counters,
    "products": _products,
    "feed": _feed,
    "maps": _maps,
    "push events": _push_events,
    "push products": _push_products,
    "push maps": _push_maps,
    "forget": _forget,
    "serve": _serve,
    "sites": _sites,
    "panel": _panel,
    "cache": _cache,
}

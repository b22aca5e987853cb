"""``KameleoonMagics``: the ``%kam`` / ``%%kam`` magic, one thin handler per subcommand.

The reference of the subcommands is the package docstring (:mod:`kameleoon_pandas.ipython`);
the syntax helpers are in :mod:`._parsing`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Integer, Unicode, default
from traitlets.config import Configurable

from ..client import Client, resolve_client, set_default_client
from ..loaders import read_maps, read_product_counters, read_product_data, read_visitor_feeds
from ..writers import forget_visitors, push_events, push_maps, push_product_events
from . import _parsing
from ._parsers import PARSERS, PUSH_KINDS, SUBCOMMANDS, TAKES_CELL, overview
from ._parsing import HelpShown, MagicParser

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.lib.pretty import RepresentationPrinter

    from ..emulator import EmulatorServer
    from ..report import PushReport

__all__ = ["KameleoonMagics"]

#: Names a ``NAME=COLUMN`` rename cannot take: they are the writers' own parameters.
_RESERVED_RENAMES = frozenset({"df", "kind", "key", "client", "site_code", "dry_run", "progress"})


@dataclass
class _Call:
    """One magic call: its name, the objects its ``$variables`` hold, and the cell body."""

    prog: str
    objects: dict[str, Any]
    cell: str | None
    namespace: dict[str, Any] = field(repr=False)


@magics_class
class KameleoonMagics(Magics, Configurable):
    """The ``%kam`` line magic and ``%%kam`` cell magic (``%load_ext kameleoon_pandas``).

    Each subcommand is a thin shell over one public function of :mod:`kameleoon_pandas` and
    returns what that function returns; the module :mod:`kameleoon_pandas.ipython` lists them.
    Errors raise: a ``UsageError`` for what was typed, the library's
    :class:`~kameleoon_pandas.KameleoonError` subclasses for what the API answered, so that a
    notebook executed headless fails on them.

    Parameters
    ----------
    shell : IPython.core.interactiveshell.InteractiveShell
        The shell to register with (``%load_ext`` passes it).

    Attributes
    ----------
    site_code : str or None
        The site code of every call that has no ``--site`` (``%config
        KameleoonMagics.site_code = "abc123site"``). Defaults to ``KAMELEOON_SITE_CODE``;
        ``None`` uses the client's default.
    progress : bool or None
        Progress bars of every call that has no ``--progress``/``--no-progress``. ``None`` (the
        default) leaves it to the library: a bar in a live notebook or a terminal, none in a
        notebook executed headless or under ``KAMELEOON_PROGRESS=0``.
    display_rows : int or None
        How many rows a frame returned by ``%kam`` shows when the cell displays it (the first
        and last halves); the returned object, ``Out`` and ``-o NAME`` are the whole frame.
        ``None`` (the default): pandas' own ``display.max_rows``.

    See Also
    --------
    kameleoon_pandas.ipython : The subcommands, with one example each.

    Examples
    --------
    >>> %load_ext kameleoon_pandas  # doctest: +SKIP
    >>> %config KameleoonMagics.display_rows = 10  # doctest: +SKIP
    >>> %kam counters SKU-1,SKU-2 --start 7d --freq 1D -o counters  # doctest: +SKIP
    """

    site_code = Unicode(
        None,
        allow_none=True,
        help="Site code of calls without --site (default KAMELEOON_SITE_CODE; None: the client's).",
    ).tag(config=True)
    progress = Bool(
        None,
        allow_none=True,
        help="Progress bars: True, False, or None (the library decides; KAMELEOON_PROGRESS).",
    ).tag(config=True)
    display_rows = Integer(
        None,
        allow_none=True,
        min=1,
        help="Rows shown when a %kam frame is displayed (None: pandas' display.max_rows).",
    ).tag(config=True)

    @default("site_code")
    def _default_site_code(self) -> str | None:
        return (os.environ.get("KAMELEOON_SITE_CODE") or "").strip() or None

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell=shell)
        self._parsers: dict[str, MagicParser] = {}
        self._server: EmulatorServer | None = None
        self._server_stack: ExitStack | None = None
        self._before_serve: Client | None = None
        self._site_before_serve: str | None = None
        #: Clients this extension built (for the emulator, or rebuilt by ``%kam cache``).
        self._owned: list[Client] = []
        self._shown: pd.DataFrame | None = None
        self._previous_printers: dict[str, Any] = {}
        self._atexit_registered = False

    @property
    def _shell(self) -> InteractiveShell:
        shell = self.shell
        if shell is None:  # pragma: no cover - always built with a shell
            raise RuntimeError("KameleoonMagics has no shell")
        return shell

    # -- the magic --------------------------------------------------------------------------------

    @no_var_expand
    @line_cell_magic
    def kam(self, line: str, cell: str | None = None) -> Any:
        """Kameleoon Data API in the notebook: ``%kam SUBCOMMAND ...`` (``%kam --help``).

        (``kameleoon_pandas.ipython`` replaces this text by its reference, for ``%kam?``.)

        ``counters``, ``products``, ``feed``, ``maps`` read DataFrames; ``push events|products|
        maps`` and ``forget`` write DataFrames and return the PushReport; ``serve`` starts a
        local emulator; ``sites``, ``panel``, ``cache`` manage the session. ``%%kam SUB``
        takes the list, one item per line, from the cell. ``%kam SUB --help`` describes one.
        """
        try:
            return self._dispatch(line, cell)
        except HelpShown:
            return None

    def _dispatch(self, line: str, cell: str | None) -> Any:
        tokens, objects = _parsing.expand_variables(_parsing.split_line(line), self._shell.user_ns)
        if not tokens:
            raise UsageError("%kam needs a subcommand\n" + overview())
        if tokens[0] in ("-h", "--help", "help"):
            print(overview())
            raise HelpShown
        name, rest = tokens[0], tokens[1:]
        if name not in SUBCOMMANDS:
            raise UsageError(f"%kam: unknown subcommand {name!r}\n" + overview())
        if name == "push":
            if not rest or rest[0] in ("-h", "--help"):
                if rest:
                    print("usage: %kam push {events,products,maps} DF [options]  (--help on each)")
                    raise HelpShown
                raise UsageError("%kam push needs what to push: events, products or maps")
            if rest[0] not in PUSH_KINDS:
                raise UsageError(f"%kam push: unknown {rest[0]!r}; choose events, products or maps")
            name, rest = f"push {rest[0]}", rest[1:]
        parser = self._parser(name)
        args = parser.parse_intermixed_args(rest)
        call = _Call(parser.prog, objects, cell, self._shell.user_ns)
        self._refuse_objects_as_text(args, call)
        handler: Callable[[argparse.Namespace, _Call], Any] = getattr(
            self, "_run_" + name.replace(" ", "_")
        )
        if cell is not None and cell.strip() and name not in TAKES_CELL:
            raise UsageError(f"%%kam {name} takes no cell body")
        result = handler(args, call)
        output = getattr(args, "output", None)
        if output is not None:
            self._shell.user_ns[output] = result
        if isinstance(result, pd.DataFrame):
            self._shown = result
        return result

    def _parser(self, name: str) -> MagicParser:
        if name not in self._parsers:
            self._parsers[name] = PARSERS[name]()
        return self._parsers[name]

    # -- common arguments -------------------------------------------------------------------------

    @staticmethod
    def _refuse_objects_as_text(args: argparse.Namespace, call: _Call) -> None:
        """A ``$variable`` holding a list may only stand where a list or an object goes."""
        takes_objects = {"items", "frame", "codes", "client"}
        for dest, value in vars(args).items():
            if dest not in takes_objects and isinstance(value, str) and value in call.objects:
                kind = type(call.objects[value]).__name__
                raise UsageError(f"{call.prog}: {value} holds a {kind}, not text ({dest})")

    def _client(self, args: argparse.Namespace, call: _Call) -> Client | None:
        token = getattr(args, "client", None)
        if token is None:
            return None
        value = self._variable(token, call, "--client")
        if not isinstance(value, Client):
            raise UsageError(
                f"{call.prog}: --client {token} is a {type(value).__name__}, not a kp.Client"
            )
        return value

    def _site(self, args: argparse.Namespace) -> str | None:
        site: str | None = getattr(args, "site", None)
        return site if site is not None else self.site_code

    def _progress(self, args: argparse.Namespace) -> bool | None:
        forced: bool | None = getattr(args, "progress", None)
        return forced if forced is not None else self.progress

    def _options(self, args: argparse.Namespace, call: _Call) -> dict[str, Any]:
        """``client``, ``site_code`` and ``progress``: the same in every loader and writer."""
        return {
            "client": self._client(args, call),
            "site_code": self._site(args),
            "progress": self._progress(args),
        }

    @staticmethod
    def _variable(token: str, call: _Call, what: str) -> Any:
        if token in call.objects:
            return call.objects[token]
        if token.isidentifier():
            if token not in call.namespace:
                raise UsageError(f"{call.prog}: no variable named {token!r} ({what})")
            return call.namespace[token]
        raise UsageError(f"{call.prog}: {what} must be a variable's name or $name, got {token!r}")

    @staticmethod
    def _items(tokens: list[str], call: _Call, *, column: str, what: str) -> list[Any]:
        """The list of a reading subcommand: from the line's tokens or the cell's lines."""
        body = call.cell if call.cell is not None and call.cell.strip() else None
        if body is not None and tokens:
            raise UsageError(f"%{call.prog}: give the {what} on the line or in the cell, not both")
        if body is not None:
            return _parsing.body_items(body)
        if not tokens:
            raise UsageError(
                f"{call.prog}: which {what}? Give $variable, a variable's name, a,b,c, or "
                f"(with %{call.prog}) one per line of the cell"
            )
        items: list[Any] = []
        for token in tokens:
            if token in call.objects:
                items += _parsing.to_items(call.objects[token], column=column, source=token)
            elif token.isidentifier() and _parsing.is_list_like(call.namespace.get(token)):
                items += _parsing.to_items(call.namespace[token], column=column, source=token)
            else:
                items += _parsing.split_literal(token)
        return items

    @staticmethod
    def _time(text: str | None, now: pd.Timestamp, flag: str, call: _Call) -> pd.Timestamp | None:
        if text is None:
            return None
        try:
            return _parsing.parse_time(text, now=now)
        except ValueError as exc:
            raise UsageError(f"{call.prog}: {flag} {exc}") from None

    # -- reading ----------------------------------------------------------------------------------

    def _run_counters(self, args: argparse.Namespace, call: _Call) -> pd.DataFrame:
        eans = self._items(args.items, call, column="ean", what="EANs")
        now = _parsing._now()
        times = {
            "start": self._time(args.start, now, "--start", call),
            "end": self._time(args.end, now, "--end", call),
            "freq": args.freq,
        }
        given = {name: value for name, value in times.items() if value is not None}
        if not args.align:
            given["align"] = False
        return read_product_counters(eans, **given, **self._options(args, call))

    def _run_products(self, args: argparse.Namespace, call: _Call) -> pd.DataFrame:
        eans = self._items(args.items, call, column="ean", what="EANs")
        return read_product_data(eans, **self._options(args, call))

    def _run_maps(self, args: argparse.Namespace, call: _Call) -> pd.DataFrame:
        keys = self._items(args.items, call, column="key", what="keys")
        return read_maps(keys, **self._options(args, call))

    def _run_feed(self, args: argparse.Namespace, call: _Call) -> pd.DataFrame:
        codes = self._items(args.items, call, column="visitor_code", what="visitor codes")
        given: dict[str, Any] = {}
        if args.previous is not None:
            given["previous_visits"] = args.previous
        if args.kinds is not None:
            given["kinds"] = _parsing.split_literal(args.kinds)
        if not args.current_visit:
            given["current_visit"] = False
        if args.by is not None:
            given["by"] = args.by
        return read_visitor_feeds(codes, **given, **self._options(args, call))

    # -- writing ----------------------------------------------------------------------------------

    def _frame(self, token: str, call: _Call) -> pd.DataFrame:
        value = self._variable(token, call, "DF")
        if not isinstance(value, pd.DataFrame):
            raise UsageError(f"{call.prog}: {token} is a {type(value).__name__}, not a DataFrame")
        return value

    @staticmethod
    def _renames(tokens: list[str], call: _Call) -> dict[str, Any]:
        renames: dict[str, Any] = {}
        for token in tokens:
            name, sep, column = token.partition("=")
            if not sep or not name or not column:
                raise UsageError(
                    f"{call.prog}: {token!r} is not a rename NAME=COLUMN (such as goal_id=goal)"
                )
            if name in _RESERVED_RENAMES:
                raise UsageError(f"{call.prog}: {name}= is an option here: use --{name}")
            renames[name] = column
        return renames

    @staticmethod
    def _key(text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        columns = _parsing.split_literal(text)
        return {"key": columns[0] if len(columns) == 1 else columns}

    @staticmethod
    def _checked(report: PushReport, args: argparse.Namespace) -> PushReport:
        return report.raise_for_failures() if args.check else report

    def _run_push_events(self, args: argparse.Namespace, call: _Call) -> PushReport:
        report = push_events(
            self._frame(args.frame, call),
            kind=args.kind,
            dry_run=args.dry_run,
            **self._key(args.key),
            **self._options(args, call),
            **self._renames(args.renames, call),
        )
        return self._checked(report, args)

    def _run_push_products(self, args: argparse.Namespace, call: _Call) -> PushReport:
        report = push_product_events(
            self._frame(args.frame, call),
            kind=args.kind,
            dry_run=args.dry_run,
            **self._key(args.key),
            **self._options(args, call),
            **self._renames(args.renames, call),
        )
        return self._checked(report, args)

    def _run_push_maps(self, args: argparse.Namespace, call: _Call) -> PushReport:
        given: dict[str, Any] = {}
        if args.key_column is not None:
            given["key"] = args.key_column
        if args.ttl_hours is not None:
            given["ttl_hours"] = args.ttl_hours
        report = push_maps(
            self._frame(args.frame, call),
            dry_run=args.dry_run,
            **given,
            **self._options(args, call),
        )
        return self._checked(report, args)

    def _run_forget(self, args: argparse.Namespace, call: _Call) -> PushReport:
        codes: Any = None
        if len(args.codes) == 1:  # a DataFrame or a Series goes as it is
            token = args.codes[0]
            value = call.objects.get(token)
            if value is None and token.isidentifier():
                value = call.namespace.get(token)
            if isinstance(value, pd.DataFrame | pd.Series):
                codes = value
        if codes is None:
            column = args.column or "visitor_code"
            codes = self._items(args.codes, call, column=column, what="visitor codes")
        given = {"visitor_code": args.column} if args.column is not None else {}
        report = forget_visitors(codes, dry_run=args.dry_run, **given, **self._options(args, call))
        return self._checked(report, args)

    # -- the session ------------------------------------------------------------------------------

    def _run_sites(self, args: argparse.Namespace, call: _Call) -> list[str]:
        client = self._client(args, call) or resolve_client(None)
        return list(client.site_codes)

    def _run_panel(self, args: argparse.Namespace, call: _Call) -> Any:
        from ..panels import CountersPanel, VisitorFeedPanel

        client = self._client(args, call) or resolve_client(None)
        codes = list(client.site_codes)
        site = self._site(args)
        if site is not None:
            codes = [site, *(code for code in codes if code != site)]
        given = bool(args.items) or bool(call.cell and call.cell.strip())
        if args.which == "counters":
            eans = self._items(args.items, call, column="ean", what="EANs") if given else None
            return CountersPanel(client, codes, eans=eans)
        visitors = (
            self._items(args.items, call, column="visitor_code", what="visitor") if given else []
        )
        if len(visitors) > 1:
            raise UsageError(f"{call.prog} feed: the panel shows one visitor, got {len(visitors)}")
        return VisitorFeedPanel(client, codes, visitor_code=str(visitors[0]) if visitors else "")

    def _run_cache(self, args: argparse.Namespace, call: _Call) -> None:
        client = resolve_client(None)
        cache = client.cache
        if args.action == "status":
            if cache is None:
                print("cache off for the session's default client (`%kam cache on`)")
            else:
                print(
                    f"cache on: {cache.path} (answers served for {cache.ttl:g} s); "
                    f"{cache.hits} hits, {cache.misses} misses"
                )
            return None
        if args.action == "clear":
            if cache is None:
                print("the session's default client has no cache: nothing to clear")
                return None
            client.cache_clear()
            print(f"cache cleared: {cache.path}")
            return None
        on = args.action == "on"
        s = client.settings
        wanted_path = os.path.abspath(os.path.expanduser(args.path)) if args.path else None
        unchanged = (s.cache_path is not None) == on and (
            not on
            or (
                (wanted_path is None or wanted_path == s.cache_path)
                and (args.ttl is None or args.ttl == s.cache_ttl)
            )
        )
        if unchanged:
            print(f"cache already {args.action}" + (f": {s.cache_path}" if on else ""))
            return None
        rebuilt = Client(
            s.site_code,
            site_codes=s.site_codes,
            client_id=s.client_id,
            client_secret=s.client_secret,
            base_url=s.base_url,
            token_url=s.token_url,
            max_concurrency=s.max_concurrency,
            rate_limit=s.rate_limit,
            timeout=s.timeout,
            retry_budget=s.retry_budget,
            max_retries=s.max_retries,
            cache=(args.path or True) if on else False,
            cache_ttl=args.ttl if args.ttl is not None else s.cache_ttl,
        )
        self._replace_default(client, rebuilt)
        if on:
            print(
                f"cache on: {rebuilt.settings.cache_path} "
                f"(answers served for {rebuilt.settings.cache_ttl:g} s)"
            )
        else:
            print("cache off")
        return None

    def _replace_default(self, old: Client, new: Client) -> None:
        """Make ``new`` the default client; close ``old`` if this extension built it."""
        self._owned.append(new)
        set_default_client(new)
        if old in self._owned:
            self._owned.remove(old)
            old.close()

    def _run_serve(self, args: argparse.Namespace, call: _Call) -> EmulatorServer | None:
        if args.stop:
            if self._server is None:
                print("no emulator is running")
                return None
            url = self._server.url
            self.stop_server()
            print(f"emulator at {url} stopped; the session's default client is the one before")
            return None
        from ..emulator import EmulatorOptions, serve

        if self._server is not None:
            url = self._server.url
            self.stop_server()
            print(f"emulator at {url} stopped")
        options = {name: getattr(args, name) for name in EmulatorOptions.field_names()}
        stack = ExitStack()
        srv = stack.enter_context(
            serve(
                db=args.db,
                seed=args.seed,
                random_seed=args.seed_number,
                port=args.port,
                **options,
            )
        )
        try:
            client = Client(
                site_codes=srv.site_codes,
                base_url=srv.url,
                token_url=srv.token_url,
                client_id=srv.client_id,
                client_secret=srv.client_secret,
            )
        except BaseException:
            stack.close()
            raise
        self._server, self._server_stack = srv, stack
        self._owned.append(client)
        self._before_serve = set_default_client(client)
        note = ""
        if self.site_code is not None and self.site_code not in srv.site_codes:
            # A site code of the real API (KAMELEOON_SITE_CODE, say) has no data here.
            self._site_before_serve = self.site_code
            self.site_code = srv.site_codes[0]
            note = f" (KameleoonMagics.site_code is {self.site_code!r} until --stop)"
        if not self._atexit_registered:
            atexit.register(self.stop_server)
            self._atexit_registered = True
        print(
            f"Kameleoon Data API emulator listening on {srv.url} (token URL {srv.token_url})\n"
            f"site codes: {', '.join(srv.site_codes)}{note}\n"
            "The session's default client now uses it; `%kam serve --stop` stops it."
        )
        return srv

    def stop_server(self) -> None:
        """Stop the emulator of ``%kam serve`` (if any) and restore the default client."""
        srv, stack = self._server, self._server_stack
        if srv is None or stack is None:
            return
        self._server = self._server_stack = None
        ours = [c for c in self._owned if c.settings.base_url == srv.url]
        current = set_default_client(self._before_serve)
        if current is not None and current not in ours:
            set_default_client(current)  # the user's own default since: keep it
        self._before_serve = None
        if self._site_before_serve is not None:
            self.site_code, self._site_before_serve = self._site_before_serve, None
        for client in ours:
            self._owned.remove(client)
            client.close()
        stack.close()

    # -- display ----------------------------------------------------------------------------------

    def _formatters(self) -> dict[str, Any]:
        display_formatter = self._shell.display_formatter
        if display_formatter is None:  # pragma: no cover - every shell has one
            raise RuntimeError("the shell has no display formatter")
        return dict(display_formatter.formatters)

    def install_display(self) -> None:
        """Show ``display_rows`` rows of the frame a ``%kam`` call returned (in its cell)."""
        formatters = self._formatters()
        self._previous_printers = {
            "text/html": formatters["text/html"].for_type(pd.DataFrame, self._html),
            "text/plain": formatters["text/plain"].for_type(pd.DataFrame, self._plain),
        }
        self._shell.events.register("post_run_cell", self._forget_shown)

    def uninstall_display(self) -> None:
        """Undo :meth:`install_display`."""
        formatters = self._formatters()
        for mime, previous in self._previous_printers.items():
            if previous is None:
                formatters[mime].pop(pd.DataFrame, None)
            else:
                formatters[mime].for_type(pd.DataFrame, previous)
        self._previous_printers = {}
        with contextlib.suppress(ValueError):
            self._shell.events.unregister("post_run_cell", self._forget_shown)

    def _forget_shown(self, result: object = None) -> None:
        self._shown = None

    @contextlib.contextmanager
    def _limited(self, frame: object) -> Iterator[None]:
        rows = self.display_rows
        if rows is not None and frame is self._shown:
            with pd.option_context("display.max_rows", rows, "display.min_rows", rows):
                yield
        else:
            yield

    def _html(self, frame: pd.DataFrame) -> str | None:
        previous = self._previous_printers.get("text/html")
        with self._limited(frame):
            if previous is not None:
                return previous(frame)
            own: Callable[[], str | None] = getattr(frame, "_repr_html_")  # noqa: B009
            return own()

    def _plain(self, frame: pd.DataFrame, p: RepresentationPrinter, cycle: bool) -> None:
        previous = self._previous_printers.get("text/plain")
        with self._limited(frame):
            if previous is not None:
                previous(frame, p, cycle)
                return
            with p.group():  # as IPython prints any multi-line repr
                for i, text in enumerate(repr(frame).splitlines()):
                    if i:
                        p.break_()
                    p.text(text)

    def close(self) -> None:
        """Stop the emulator, restore the display; called by ``%unload_ext``."""
        self.stop_server()
        if self._atexit_registered:
            atexit.unregister(self.stop_server)
            self._atexit_registered = False
        self.uninstall_display()
        self._shown = None

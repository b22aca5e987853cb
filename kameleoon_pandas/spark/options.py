"""The ``"kameleoon"`` data source's options: string in, checked and typed out (no pyspark here).

Spark hands a data source its options as strings under case-insensitive names. This module
reads them once, on the driver, into :class:`WriteOptions` / :class:`ReadOptions`; a bad value
raises :class:`~kameleoon_pandas.ValidationError` naming the option (never echoing a
credential). The same objects travel to the tasks, which build their client from
:meth:`ClientOptions.client_kwargs`: what an option does not give, the executor's own
``KAMELEOON_*`` environment (then the default) does, as for any :class:`~kameleoon_pandas.Client`.

The credentials live in one field, :attr:`ClientOptions.client_secret`, which no repr, log
line or message shows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._contract import MAX_PREVIOUS_VISITS, MAX_TTL_HOURS
from .._exceptions import ValidationError
from ..loaders import time_windows

__all__ = [
    "READ_WHATS",
    "WRITE_WHATS",
    "ClientOptions",
    "Fault",
    "ReadOptions",
    "WriteOptions",
    "parse_read_options",
    "parse_write_options",
]

#: ``option("what", ...)`` of a write -> the writer it runs.
WRITE_WHATS = {
    "visitevents": "visitEvents",
    "productevents": "productEvents",
    "maps": "maps",
    "forget": "forget",
}
#: ``option("what", ...)`` of a read -> the loader it runs.
READ_WHATS = {
    "visitorfeeds": "visitorFeeds",
    "productcounters": "productCounters",
    "productdata": "productData",
    "maps": "maps",
}

#: Client settings: option name (lower case) -> (Client keyword, type).
_CLIENT_OPTIONS: dict[str, tuple[str, type]] = {
    "clientid": ("client_id", str),
    "clientsecret": ("client_secret", str),
    "baseurl": ("base_url", str),
    "tokenurl": ("token_url", str),
    "maxconcurrency": ("max_concurrency", int),
    "ratelimit": ("rate_limit", float),
    "timeout": ("timeout", float),
    "retrybudget": ("retry_budget", float),
    "maxretries": ("max_retries", int),
}
#: Client keyword -> the option that sets it (for the helpers, which take keywords).
CLIENT_OPTION_NAMES = {
    "client_id": "clientId",
    "client_secret": "clientSecret",
    "base_url": "baseUrl",
    "token_url": "tokenUrl",
    "max_concurrency": "maxConcurrency",
    "rate_limit": "rateLimit",
    "timeout": "timeout",
    "retry_budget": "retryBudget",
    "max_retries": "maxRetries",
}

_WRITE_OPTIONS = {
    "what",
    "sitecode",
    "kind",
    "key",
    "ttlhours",
    "visitorcode",
    "invalidpath",
    "reportpath",
    "rowsperpush",
    "contentnonces",
    "dryrun",
    "testfault",
    "path",  # save(path): Spark's own; refused below when given
}
_READ_OPTIONS = {
    "what",
    "sitecode",
    "keys",
    "numpartitions",
    "previousvisits",
    "currentvisit",
    "kinds",
    "by",
    "start",
    "end",
    "freq",
    "align",
    "path",
}
#: Rows handed to one ``kp.push_*`` call by default: enough bodies to keep the client's
#: concurrency busy (a conversion line is about 70 bytes: 250,000 rows are about 7 bodies of
#: 2.5 MiB), few enough that a task's memory stays small.
DEFAULT_ROWS_PER_PUSH = 250_000
#: Keys per read task when ``numPartitions`` is not given.
KEYS_PER_PARTITION = 1_000


def _lower(options: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in options.items():
        if value is None:
            continue
        out[str(name).lower()] = str(value)
    return out


def _unknown(given: dict[str, str], known: set[str], where: str) -> None:
    unknown = sorted(
        n
        for n in given
        if n not in known and n not in _CLIENT_OPTIONS and not n.startswith("column.")
    )
    if unknown:
        raise ValidationError(
            f"the kameleoon data source ({where}) has no option {unknown[0]!r}; see "
            "docs/spark.md for the options"
        )


def _int(given: dict[str, str], name: str, low: int, high: int | None = None) -> int | None:
    raw = given.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValidationError(f"option {name!r} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValidationError(f"option {name!r} must be an integer {bounds}, got {value}")
    return value


def _bool(given: dict[str, str], name: str, default: bool) -> bool:
    raw = given.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValidationError(f"option {name!r} must be true or false, got {raw!r}")


def _names(raw: str | None, name: str) -> tuple[str, ...]:
    """A list of column names or values: a JSON array, or comma-separated (blanks dropped)."""
    if raw is None or not raw.strip():
        return ()
    text = raw.strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"option {name!r} is not a JSON array: {exc}") from None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValidationError(f"option {name!r} must be a JSON array of strings")
        return tuple(values)
    return tuple(part.strip() for part in text.split(",") if part.strip())


# --------------------------------------------------------------------------- client


@dataclass(frozen=True)
class ClientOptions:
    """The client settings the options give; the rest comes from each executor's environment.

    Attributes
    ----------
    site_code : str or None
        ``siteCode``; ``None`` leaves it to ``KAMELEOON_SITE_CODE`` on the executors.
    settings : dict
        ``kp.Client`` keywords given as options (``clientId`` -> ``client_id``, ...), without
        the secret.
    client_secret : str or None
        ``clientSecret``: never in a repr.
    """

    site_code: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    client_secret: str | None = field(default=None, repr=False)

    def client_kwargs(self) -> dict[str, Any]:
        """The keywords of the task's :class:`~kameleoon_pandas.Client` (secret included)."""
        out = dict(self.settings)
        if self.client_secret is not None:
            out["client_secret"] = self.client_secret
        if self.site_code is not None:
            out["site_code"] = self.site_code
        return out


def _client_options(given: dict[str, str]) -> ClientOptions:
    settings: dict[str, Any] = {}
    secret: str | None = None
    for name, (keyword, kind) in _CLIENT_OPTIONS.items():
        raw = given.get(name)
        if raw is None or raw.strip() == "":
            continue
        if name == "clientsecret":
            secret = raw
            continue
        if kind is str:
            settings[keyword] = raw.strip()
            continue
        try:
            value: float = int(raw.strip()) if kind is int else float(raw.strip())
        except ValueError:
            article = "an integer" if kind is int else "a number"
            raise ValidationError(f"option {name!r} must be {article}, got {raw!r}") from None
        if kind is float and not math.isfinite(value):
            raise ValidationError(f"option {name!r} must be a finite number, got {raw!r}")
        settings[keyword] = value
    site = given.get("sitecode")
    if site is not None and not site.strip():
        raise ValidationError("option 'siteCode' is empty")
    return ClientOptions(site.strip() if site else None, settings, secret)


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """A testing aid (``option("testFault", "afterRequests=1,attempts=1,partitions=0")``).

    The first ``attempts`` attempts of each task of the listed ``partitions`` (all when empty)
    raise once they have made ``after_requests`` requests: a task dying half-way, which Spark
    then retries. Nothing else reads a task's attempt number.
    """

    after_requests: int = 1
    attempts: int = 1
    partitions: tuple[int, ...] = ()

    def hits(self, partition: int, attempt: int, requests: int) -> bool:
        """Whether this task attempt fails now, having made ``requests`` requests."""
        if self.partitions and partition not in self.partitions:
            return False
        return attempt < self.attempts and requests >= self.after_requests


def _fault(raw: str | None) -> Fault | None:
    if raw is None or not raw.strip():
        return None
    values: dict[str, str] = {}
    for part in raw.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValidationError(f"option 'testFault': expected name=value, got {part!r}")
        values[name.strip().lower()] = value.strip()
    unknown = set(values) - {"afterrequests", "attempts", "partitions"}
    if unknown:
        raise ValidationError(f"option 'testFault': unknown {sorted(unknown)[0]!r}")
    try:
        return Fault(
            after_requests=int(values.get("afterrequests", "1")),
            attempts=int(values.get("attempts", "1")),
            partitions=tuple(int(p) for p in values.get("partitions", "").split(";") if p),
        )
    except ValueError:
        raise ValidationError(f"option 'testFault' takes integers, got {raw!r}") from None


# --------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class WriteOptions:
    """A write's options, checked on the driver; pickled to every task.

    Attributes
    ----------
    what : str
        ``visitEvents`` (the default), ``productEvents``, ``maps`` or ``forget``.
    client : ClientOptions
        The client settings and site code.
    kind : str or None
        The events' kind (``kind`` of ``kp.push_events``); ``None`` reads a ``kind`` column.
    key : tuple of str
        Events: the ``key=`` columns. Maps: one name, the map-key column (``"key"``).
    columns : dict
        Renames, ``option("column.goal_id", "goal")``: schema name -> the frame's column.
    ttl_hours : int or None
        Maps: ``ttl_hours``.
    visitor_code : str
        Forget: the column of visitor codes.
    invalid_path : str or None
        Where invalid and failed rows are written (Parquet), one file per task.
    report_path : str or None
        Where the driver writes the job's report (JSON).
    rows_per_push : int
        Rows per ``kp.push_*`` call within a task.
    content_nonces : bool
        Without ``key`` or a ``nonce`` column: the caller vouches that every owner's rows are
        in one partition, together (as :func:`kameleoon_pandas.spark.push_events` arranges).
    dry_run : bool
        Validate and encode only.
    fault : Fault or None
        The testing aid.
    """

    what: str
    client: ClientOptions
    kind: str | None = None
    key: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    ttl_hours: int | None = None
    visitor_code: str = "visitor_code"
    invalid_path: str | None = None
    report_path: str | None = None
    rows_per_push: int = DEFAULT_ROWS_PER_PUSH
    content_nonces: bool = False
    dry_run: bool = False
    fault: Fault | None = None

    @property
    def events(self) -> bool:
        """Whether this write pushes events (visit or product), whose nonces matter."""
        return self.what in ("visitEvents", "productEvents")

    def owner_columns(self, frame_columns: list[str]) -> list[str]:
        """The frame's columns naming whose an event is (visitor / mapping value, or EAN).

        Rows of one owner are never split between two pushes of a task, so that identical
        rows are ranked together and a custom data event's rows stay one event.
        """
        if self.what == "visitEvents":
            wanted = ["visitor_code", "mapping_value"]
        elif self.what == "productEvents":
            wanted = ["ean"]
        else:
            return []
        names = [self.columns.get(name, name) for name in wanted]
        return [name for name in names if name in frame_columns]

    def operation(self) -> str:
        """The pandas writer this write runs, as its report names it."""
        verb = {
            "visitEvents": "push_events",
            "productEvents": "push_product_events",
            "maps": "push_maps",
            "forget": "forget_visitors",
        }[self.what]
        return verb + (f"({self.kind})" if self.kind and self.events else "")


def parse_write_options(options: Mapping[str, Any]) -> WriteOptions:
    """Check a write's options (see :class:`WriteOptions`); raise naming a bad one.

    Raises
    ------
    ValidationError
        An unknown option or ``what``, a malformed number, ``key`` with maps naming several
        columns, ``save(path)``.
    """
    given = _lower(options)
    _unknown(given, _WRITE_OPTIONS, "write")
    if "path" in given:
        raise ValidationError(
            "the kameleoon data source takes no path: call .save() without one (the site is "
            "option('siteCode', ...))"
        )
    raw_what = given.get("what", "visitEvents")
    what = WRITE_WHATS.get(raw_what.strip().lower())
    if what is None:
        raise ValidationError(
            f"option 'what' must be one of {', '.join(WRITE_WHATS.values())}, got {raw_what!r}"
        )
    columns = {
        name[len("column.") :]: value
        for name, value in options.items()
        if str(name).lower().startswith("column.")
    }
    if columns and what in ("maps", "forget"):
        raise ValidationError(f"column.* renames are for events, not what={what!r}")
    key = _names(given.get("key"), "key")
    if what == "maps":
        if len(key) > 1:
            raise ValidationError("option 'key' of maps names one column (the map keys)")
        key = key or ("key",)
    elif what == "forget" and key:
        raise ValidationError("option 'key' is for events and maps; forget takes 'visitorCode'")
    kind = given.get("kind")
    if kind is not None and what not in ("visitEvents", "productEvents"):
        raise ValidationError(f"option 'kind' is for events, not what={what!r}")
    ttl = _int(given, "ttlhours", 1, MAX_TTL_HOURS)
    if ttl is not None and what != "maps":
        raise ValidationError("option 'ttlHours' is for what='maps'")
    rows = _int(given, "rowsperpush", 1)
    return WriteOptions(
        what=what,
        client=_client_options(given),
        kind=kind.strip() if kind and kind.strip() else None,
        key=key,
        columns=columns,
        ttl_hours=ttl,
        visitor_code=given.get("visitorcode", "visitor_code"),
        invalid_path=given.get("invalidpath") or None,
        report_path=given.get("reportpath") or None,
        rows_per_push=rows if rows is not None else DEFAULT_ROWS_PER_PUSH,
        content_nonces=_bool(given, "contentnonces", False),
        dry_run=_bool(given, "dryrun", False),
        fault=_fault(given.get("testfault")),
    )


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class ReadOptions:
    """A read's options, checked on the driver; pickled to every task.

    Attributes
    ----------
    what : str
        ``visitorFeeds``, ``productCounters``, ``productData`` or ``maps``.
    client : ClientOptions
        The client settings and site code.
    keys : tuple of str
        The keys of a format read (``option("keys", ...)``); the helpers read a DataFrame.
    num_partitions : int or None
        Read tasks; ``None``: one per 1,000 keys.
    loader : dict
        The loader's own keywords (``previous_visits``, ``kinds``, ``by``, ``start``, ...).
    """

    what: str
    client: ClientOptions
    keys: tuple[str, ...] = ()
    num_partitions: int | None = None
    loader: dict[str, Any] = field(default_factory=dict)

    @property
    def by(self) -> str:
        """Feeds: ``visitor_code`` or ``mapping_value``."""
        return str(self.loader.get("by", "visitor_code"))

    def partition_count(self, n_keys: int) -> int:
        """Read tasks for ``n_keys`` keys."""
        if self.num_partitions is not None:
            return max(1, min(self.num_partitions, max(n_keys, 1)))
        return max(1, math.ceil(n_keys / KEYS_PER_PARTITION))


def parse_read_options(options: Mapping[str, Any]) -> ReadOptions:
    """Check a read's options (see :class:`ReadOptions`); raise naming a bad one.

    Raises
    ------
    ValidationError
        A missing or unknown ``what``, an option of another loader, a malformed value.
    """
    given = _lower(options)
    _unknown(given, _READ_OPTIONS, "read")
    if "path" in given:
        raise ValidationError("the kameleoon data source takes no path: give option('keys', ...)")
    raw_what = given.get("what")
    what = READ_WHATS.get((raw_what or "").strip().lower())
    if what is None:
        raise ValidationError(
            f"option 'what' must be one of {', '.join(READ_WHATS.values())}, got {raw_what!r}"
        )
    if any(n.startswith("column.") for n in given):
        raise ValidationError("column.* renames are for writes")
    loader: dict[str, Any] = {}
    per_loader = {
        "visitorFeeds": {"previousvisits", "currentvisit", "kinds", "by"},
        "productCounters": {"start", "end", "freq", "align"},
    }
    mine = per_loader.get(what, set())
    others = set().union(*per_loader.values()) - mine
    stray = sorted(n for n in given if n in others)
    if stray:
        raise ValidationError(f"option {stray[0]!r} is not an option of what={what!r}")
    if what == "visitorFeeds":
        previous = _int(given, "previousvisits", 0, MAX_PREVIOUS_VISITS)
        if previous is not None:
            loader["previous_visits"] = previous
        if "currentvisit" in given:
            loader["current_visit"] = _bool(given, "currentvisit", True)
        kinds = _names(given.get("kinds"), "kinds")
        if kinds:
            loader["kinds"] = list(kinds)
        by = given.get("by", "visitor_code").strip()
        if by not in ("visitor_code", "mapping_value"):
            raise ValidationError(f"option 'by' must be visitor_code or mapping_value, got {by!r}")
        loader["by"] = by
    elif what == "productCounters":
        for name in ("start", "end", "freq"):
            if given.get(name, "").strip():
                loader[name] = given[name].strip()
        if "align" in given:
            loader["align"] = _bool(given, "align", True)
        loader = _fixed_window(loader)
    return ReadOptions(
        what=what,
        client=_client_options(given),
        keys=_names(given.get("keys"), "keys"),
        num_partitions=_int(given, "numpartitions", 1),
        loader=loader,
    )


def _fixed_window(loader: dict[str, Any]) -> dict[str, Any]:
    """``start`` and ``end`` made explicit, once, on the driver: the default end is *now*, and
    every task must cut the same windows."""
    windows = time_windows(
        loader.get("start"), loader.get("end"), loader.get("freq"), align=loader.get("align", True)
    )
    out = dict(loader)
    out["start"] = pd.Timestamp(windows[0][0], unit="ms", tz="UTC").isoformat()
    out["end"] = pd.Timestamp(windows[-1][1], unit="ms", tz="UTC").isoformat()
    return out

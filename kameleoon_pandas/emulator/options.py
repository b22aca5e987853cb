"""The emulator's behaviour switches, read on every request (a test may flip them live).

Each field carries its command-line help (and bounds or choices) in its metadata, so the flags of
``kameleoon-pandas serve`` and ``python -m kameleoon_pandas.emulator`` are derived from this one
dataclass (see :mod:`.args`). Every assignment is checked against the same metadata, at
construction and later (``srv.options.token_ttl = float("nan")`` is refused, not served).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

#: Every fault kind ``fault_rate`` can inject: a ``429`` (with ``Retry-After: 0``), a ``500``, a
#: dropped connection before the request is handled (nothing stored), and ``lost-ack``: the
#: request is handled and stored, then the connection is dropped before the answer leaves.
FAULT_KINDS = ("429", "500", "drop", "lost-ack")
DEFAULT_FAULTS = ("429", "500", "drop")


def _option(
    default: Any,
    text: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with its flag's help ``text`` and bounds (``low <= value <= high``).

    ``choices`` is for a tuple-of-strings field: the values each item may take.
    """
    return field(
        default=default, metadata={"help": text, "low": low, "high": high, "choices": choices}
    )


@dataclass
class EmulatorOptions:
    """How the emulator behaves; mutable, so ``srv.options.fault_rate = 0.2`` takes effect at once.

    Every field is also a command-line flag of the same name (``token_ttl``: ``--token-ttl``).
    Every assignment is checked: a wrong type, a number that is not finite or out of bounds, or
    an unknown fault kind raises at once (``TypeError`` or ``ValueError`` naming the option).

    Attributes
    ----------
    require_auth : bool
        A Data API call without a token answers 401 (a bad or expired token always does).
    client_id : str
        The client id ``/oauth/token`` accepts.
    client_secret : str
        The client secret ``/oauth/token`` accepts; never shown in the repr.
    token_ttl : float
        Token lifetime in seconds (finite, >= 0).
    strict : bool
        A bad event line answers 400 naming the line and field (nothing of the body is stored),
        instead of being dropped and recorded.
    latency_ms : float
        Milliseconds added to every request, without blocking the server.
    fault_rate : float
        The fraction (0 to 1) of Data API calls answered with an injected fault.
    faults : tuple of str
        The fault kinds injected, each equally likely: ``"429"``, ``"500"``, ``"drop"`` (the
        connection is dropped before the request is handled) and ``"lost-ack"`` (the request is
        handled and stored, then the connection is dropped: the answer is lost). Empty: none.
    max_event_body : int
        Byte limit of ``/visit/events`` and ``/product/events`` bodies (413 beyond).
    max_small_body : int
        Byte limit of ``/visit/forget`` and ``POST /map/maps`` bodies (413 beyond).
    access_log : bool
        Log every request (method, path, status, time in ms) on the
        ``kameleoon_pandas.emulator.access`` logger, at INFO (``kameleoon-pandas serve
        --access-log`` prints them on stdout).

    Examples
    --------
    >>> from kameleoon_pandas.emulator import EmulatorOptions
    >>> options = EmulatorOptions(require_auth=True, fault_rate=0.1)
    >>> options.token_ttl
    3600.0
    >>> "demo-secret" in repr(options)
    False
    >>> options.faults = ("500", "lost-ack")
    >>> EmulatorOptions(token_ttl=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: EmulatorOptions.token_ttl must be a finite number, got nan
    """

    require_auth: bool = _option(False, "answer 401 to Data API calls without a bearer token")
    client_id: str = _option("demo-client", "client id accepted by /oauth/token")
    client_secret: str = _option("demo-secret", "client secret accepted by /oauth/token")
    token_ttl: float = _option(3600.0, "token lifetime in seconds", low=0)
    strict: bool = _option(False, "answer 400 to a bad event line instead of dropping it")
    latency_ms: float = _option(0.0, "latency added to every request, in milliseconds", low=0)
    fault_rate: float = _option(
        0.0, "fraction of Data API calls answered with an injected fault", low=0, high=1
    )
    faults: tuple[str, ...] = _option(
        DEFAULT_FAULTS,
        "the fault kinds injected, comma-separated: 429, 500, drop (connection dropped before"
        " the request is handled), lost-ack (handled and stored, then the connection is dropped)",
        choices=FAULT_KINDS,
    )
    # 3 MB for /visit/events and /product/events, 1 MB for /visit/forget and POST /map/maps
    # [likely].
    max_event_body: int = _option(3_000_000, "byte limit of event bodies", low=0)
    max_small_body: int = _option(1_000_000, "byte limit of forget and map bodies", low=0)
    access_log: bool = _option(
        False, "log every request (method, path, status, time in ms) on stdout"
    )

    def __setattr__(self, name: str, value: Any) -> None:
        spec = _SPECS.get(name)
        if spec is not None:
            value = _checked(name, value, *spec)
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        # The secret never shows up in a repr, a log line or a notebook.
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'client_secret' else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"EmulatorOptions({shown})"

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The names of the option fields (the keywords ``serve`` passes on)."""
        return frozenset(f.name for f in fields(cls))


def _checked(
    name: str,
    value: Any,
    kind: type,
    low: float | None,
    high: float | None,
    choices: tuple[str, ...] | None,
) -> Any:
    """``value`` as option ``name`` holds it, or a TypeError / ValueError naming the option."""
    where = f"EmulatorOptions.{name}"
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{where} must be True or False, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a string, got {value!r}")
        return value
    if kind is tuple:
        items = (value,) if isinstance(value, str) else value
        try:
            items = tuple(items)
        except TypeError:
            raise TypeError(f"{where} must be a tuple of strings, got {value!r}") from None
        unknown = [item for item in items if item not in (choices or ())]
        if unknown:
            raise ValueError(
                f"{where}: unknown {', '.join(map(repr, unknown))}; choose from"
                f" {', '.join(choices or ())}"
            )
        return tuple(dict.fromkeys(items))  # each kind once, in the order given
    # A number: int fields take integers only, float fields integers or floats.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where} must be a number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise TypeError(f"{where} must be an integer, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low:g} and {high:g}"
            if low is not None and high is not None
            else f">= {low:g}"
            if low is not None
            else f"<= {high:g}"
        )
        raise ValueError(f"{where} must be {bounds}, got {value!r}")
    return float(value) if kind is float else value


def _specs() -> dict[str, tuple[type, float | None, float | None, tuple[str, ...] | None]]:
    kinds = {bool: bool, str: str, int: int, float: float}
    out = {}
    for f in fields(EmulatorOptions):
        default = f.default
        kind = tuple if isinstance(default, tuple) else kinds[type(default)]
        out[f.name] = (kind, f.metadata["low"], f.metadata["high"], f.metadata["choices"])
    return out


_SPECS = _specs()

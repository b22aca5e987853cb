"""The emulator's behaviour switches, read on every request (a test may flip them live).

Each field carries its command-line help (and bounds) in its metadata, so the flags of
``kameleoon-pandas serve`` and ``python -m kameleoon_pandas.emulator`` are derived from this one
dataclass (see :mod:`.args`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _option(default: Any, text: str, *, low: float | None = None, high: float | None = None) -> Any:
    """A dataclass field with its flag's help ``text`` and bounds (``low <= value <= high``)."""
    return field(default=default, metadata={"help": text, "low": low, "high": high})


@dataclass
class EmulatorOptions:
    """How the emulator behaves; mutable, so ``srv.options.fault_rate = 0.2`` takes effect at once.

    Every field is also a command-line flag of the same name (``token_ttl``: ``--token-ttl``).

    Attributes
    ----------
    require_auth : bool
        A Data API call without a token answers 401 (a bad or expired token always does).
    client_id : str
        The client id ``/oauth/token`` accepts.
    client_secret : str
        The client secret ``/oauth/token`` accepts; never shown in the repr.
    token_ttl : float
        Token lifetime in seconds.
    strict : bool
        A bad event line answers 400 naming the line and field (nothing of the body is stored),
        instead of being dropped and recorded.
    latency_ms : float
        Milliseconds added to every request, without blocking the server.
    fault_rate : float
        The fraction (0 to 1) of Data API calls answered 429, 500 or a dropped connection.
    max_event_body : int
        Byte limit of ``/visit/events`` and ``/product/events`` bodies (413 beyond).
    max_small_body : int
        Byte limit of ``/visit/forget`` and ``POST /map/maps`` bodies (413 beyond).

    Examples
    --------
    >>> from kameleoon_pandas.emulator import EmulatorOptions
    >>> options = EmulatorOptions(require_auth=True, fault_rate=0.1)
    >>> options.token_ttl
    3600.0
    >>> "demo-secret" in repr(options)
    False
    """

    require_auth: bool = _option(False, "answer 401 to Data API calls without a bearer token")
    client_id: str = _option("demo-client", "client id accepted by /oauth/token")
    client_secret: str = _option("demo-secret", "client secret accepted by /oauth/token")
    token_ttl: float = _option(3600.0, "token lifetime in seconds", low=0)
    strict: bool = _option(False, "answer 400 to a bad event line instead of dropping it")
    latency_ms: float = _option(0.0, "latency added to every request, in milliseconds", low=0)
    fault_rate: float = _option(
        0.0, "fraction of Data API calls answered 429, 500 or dropped", low=0, high=1
    )
    # 3 MB for /visit/events and /product/events, 1 MB for /visit/forget and POST /map/maps
    # [likely].
    max_event_body: int = _option(3_000_000, "byte limit of event bodies", low=0)
    max_small_body: int = _option(1_000_000, "byte limit of forget and map bodies", low=0)

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

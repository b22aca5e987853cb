"""The emulator's behaviour switches, read on every request (a test may flip them live)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class EmulatorOptions:
    """How the emulator behaves; mutable, so ``srv.options.fault_rate = 0.2`` takes effect at once.

    - ``require_auth``: a Data API call without a token answers 401 (a bad or expired token is
      always 401).
    - ``client_id`` / ``client_secret``: the credentials ``/oauth/token`` accepts.
    - ``token_ttl``: token lifetime in seconds.
    - ``strict``: a bad event line answers 400 naming the line and field, instead of being dropped
      and recorded.
    - ``latency_ms``: added to every request, without blocking the server.
    - ``fault_rate``: the fraction of Data API calls answered 429, 500 or a dropped connection.
    - ``max_event_body`` / ``max_small_body``: body limits in bytes (413 beyond).
    """

    require_auth: bool = False
    client_id: str = "demo-client"
    client_secret: str = "demo-secret"
    token_ttl: float = 3600.0
    strict: bool = False
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    max_event_body: int = 3_000_000  # 3 MB for /visit/events and /product/events [likely]
    max_small_body: int = 1_000_000  # 1 MB for /visit/forget and POST /map/maps [likely]

    def __repr__(self) -> str:
        # The secret never shows up in a repr, a log line or a notebook.
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'client_secret' else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"EmulatorOptions({shown})"

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls))

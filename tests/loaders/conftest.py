"""The loader tests use the client tests' helpers: a client over ``httpx.MockTransport`` and a
recorder of what it sent (``tests/client/conftest.py``, the one copy)."""

from __future__ import annotations

from client.conftest import (  # fixtures imported here are fixtures of this folder too
    Recorder,
    keys_param,
    make_client,
    no_network,
    recorder,
)

__all__ = ["Recorder", "keys_param", "make_client", "no_network", "recorder"]

"""Helpers for the loader tests: a client over ``httpx.MockTransport`` and a recorder.

A copy of the few helpers of ``tests/client/conftest.py`` the loader tests use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

import kameleoon_pandas as kp

BASE = "http://127.0.0.1:9"
TOKEN_URL = BASE + "/oauth/token"


@dataclass
class Recorder:
    """Records every request a MockTransport handler sees (thread-safe)."""

    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: httpx.Request) -> None:
        with self.lock:
            self.requests.append(request)

    def paths(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


def keys_param(request: httpx.Request, name: str = "eans") -> list[str]:
    return json.loads(request.url.params[name])


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder) -> Iterator[Callable[..., kp.Client]]:
    """``make_client(handler, **settings)``: a sync Client whose network is ``handler``."""
    made: list[kp.Client] = []

    def factory(handler: Callable, **settings: object) -> kp.Client:
        def recorded(request: httpx.Request):
            recorder.add(request)
            return handler(request)

        options = {"site_code": "s1", "base_url": BASE, "token_url": TOKEN_URL, "retry_budget": 5.0}
        options.update(settings)
        client = kp.Client(transport=httpx.MockTransport(recorded), **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url.path}")

"""One emulator per session, reached over real HTTP on loopback; each test uses its own site code.

Options are reset after every test, so a test may flip ``emu.options`` live.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import httpx
import pytest

from kameleoon_pandas.emulator import EmulatorOptions, EmulatorServer, serve

_sites = itertools.count(1)


@pytest.fixture(scope="session")
def emu_server() -> Iterator[EmulatorServer]:
    with serve(db=":memory:", port=0) as srv:
        yield srv


@pytest.fixture
def emu(emu_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session's server, with default options restored after the test."""
    yield emu_server
    defaults = EmulatorOptions()
    for field in dataclasses.fields(defaults):
        setattr(emu_server.options, field.name, getattr(defaults, field.name))


@pytest.fixture
def site() -> str:
    """A site code no other test uses (site codes are isolated from each other)."""
    return f"testsite{next(_sites):04d}"


# One TLS context for every test's client: building one loads the CA bundle (about 20 ms).
_TLS = httpx.create_ssl_context()


@pytest.fixture
def http(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10, verify=_TLS) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

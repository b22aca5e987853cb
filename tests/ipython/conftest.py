"""A real IPython shell per test, the demo emulator, and clients that the tests close.

The demo emulator (``demo_server``, ``demo_client``) comes from ``tests/conftest.py``. Each test
gets a fresh ``InteractiveShell`` (history off, its own IPython directory); the session's
default client is put back as it was afterwards.
"""

from __future__ import annotations

import atexit
import socket
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")  # the panels import matplotlib; no display in tests

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import kameleoon_pandas as kp
from kameleoon_pandas.client import set_default_client

SECRET = "demo-secret"  # the demo emulator's client secret: never in an output


@pytest.fixture
def shell(tmp_path, monkeypatch) -> Iterator[InteractiveShell]:
    """A fresh ``InteractiveShell.instance()``, cleared afterwards."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # %kam cache on: not ~/.cache
    config = Config()
    config.HistoryManager.enabled = False
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(config=config)
    previous = set_default_client(None)
    try:
        yield sh
    finally:
        if "kameleoon_pandas" in sh.extension_manager.loaded:
            sh.run_line_magic("unload_ext", "kameleoon_pandas")
        set_default_client(previous)
        InteractiveShell.clear_instance()
        # Each shell registers its exit clean-up (a reset and a gc.collect) with atexit, which
        # keeps the shell alive until exit and then runs them all: about 8 s of one xdist
        # worker's exit over this folder's shells. This one has no history or temp files.
        atexit.unregister(sh.atexit_operations)


@pytest.fixture
def kam(shell) -> Iterator[InteractiveShell]:
    """The shell with ``%load_ext kameleoon_pandas`` done."""
    shell.run_line_magic("load_ext", "kameleoon_pandas")
    return shell


@pytest.fixture
def magics(kam) -> Any:
    """The loaded ``KameleoonMagics`` instance."""
    return kam.magics_manager.registry["KameleoonMagics"]


@pytest.fixture
def make_client() -> Iterator[Callable[..., kp.Client]]:
    """``make_client(server, **settings)``: a client of an emulator, closed after the test."""
    made: list[kp.Client] = []

    def make(server: Any, **settings: Any) -> kp.Client:
        client = kp.Client(
            site_codes=server.site_codes,
            base_url=server.url,
            token_url=server.token_url,
            client_id=server.client_id,
            client_secret=server.client_secret,
            **settings,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="module")
def ids(demo_server) -> dict[str, list[str]]:
    """A few EANs, visitors and map keys of the demo's first site."""
    return demo_server.state.identifiers("demosite01", visitors=4, keys=4)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

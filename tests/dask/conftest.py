"""Fixtures of the Dask tests: one ``distributed.LocalCluster`` (2 workers, 1 thread each) and
one counting emulator for the whole folder, a fresh site code per test.

Every test here is marked ``dask`` and ``xdist_group("dask")`` (see ``pytestmark`` in each
module), so that under ``--dist loadgroup`` they share one xdist worker and one cluster.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

_sites = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so that --strict-markers accepts them without xdist (-p no:xdist)
    # and before the lead registers them in pyproject.toml.
    config.addinivalue_line("markers", "dask: needs dask and distributed (a LocalCluster)")
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


class _Cluster:
    """The folder's LocalCluster, started by the first test that asks for it and stopped after
    the folder's last test (``pytest_runtest_teardown``): idle, its worker processes otherwise
    spent about 10 s of CPU each over the rest of the suite (heartbeats, the scheduler's ticks).
    A Dask test run later (another order, ``-k``) starts it again."""

    local: Any = None
    client: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls.client is None:
            from dask_helpers import distributed

            # Each nanny sets OMP_NUM_THREADS, PYTHONHASHSEED and the like in *this* process's
            # environment before it spawns its worker, and leaves them set: every later test
            # on this xdist worker, and each process it starts, would inherit them.
            with mock.patch.dict(os.environ):  # restored as it was on the way out
                cls.local = distributed.LocalCluster(
                    n_workers=2, threads_per_worker=1, dashboard_address=":0", processes=True
                )
                cls.client = distributed.Client(cls.local)
        return cls.client

    @classmethod
    def stop(cls) -> None:
        if cls.client is not None:
            client, local, cls.client, cls.local = cls.client, cls.local, None, None
            client.close()
            local.close()


@pytest.fixture
def cluster() -> Any:
    """A distributed client on a LocalCluster of 2 worker processes with 1 thread each."""
    return _Cluster.get()


_HERE = Path(__file__).resolve().parent


@pytest.hookimpl(trylast=True)  # after the test's own fixtures are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or _HERE not in Path(nextitem.path).resolve().parents:
        _Cluster.stop()


@pytest.fixture(scope="session")
def srv() -> Iterator[Any]:
    """The emulator over loopback, auth required, counting requests in flight."""
    from dask_helpers import counting_server

    with counting_server() as server:
        yield server


@pytest.fixture
def site() -> str:
    """A fresh site code per test: tests share one emulator but never each other's data."""
    return f"dsite{next(_sites):04d}"


@pytest.fixture
def kp_client(srv: Any, site: str) -> Iterator[Any]:
    """A ``kp.Client`` of the emulator, this test's site code its default."""
    import kameleoon_pandas as kp

    with kp.Client(site, **srv.settings) as client:
        yield client


@pytest.fixture(autouse=True)
def _calm_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "srv" in request.fixturenames:
        server = request.getfixturevalue("srv")
        server.options.fault_rate = 0.0
        server.options.latency_ms = 0.0
        server.options.max_event_body = 3_000_000
        server.options.max_small_body = 1_000_000
        server.reset()

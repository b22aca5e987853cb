"""Fixtures of the Dask tests: one ``distributed.LocalCluster`` (2 workers, 1 thread each) and
one counting emulator for the whole folder, a fresh site code per test.

Every test here is marked ``dask`` and ``xdist_group("dask")`` (see ``pytestmark`` in each
module), so that under ``--dist loadgroup`` they share one xdist worker and one cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

_sites = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so that --strict-markers accepts them without xdist (-p no:xdist)
    # and before the lead registers them in pyproject.toml.
    config.addinivalue_line("markers", "dask: needs dask and distributed (a LocalCluster)")
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """A distributed client on a LocalCluster of 2 worker processes with 1 thread each."""
    from dask_helpers import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0", processes=True
        ) as local,
        distributed.Client(local) as client,
    ):
        yield client


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

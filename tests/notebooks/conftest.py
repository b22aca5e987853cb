"""Fixtures for the notebook experience: a headless matplotlib and one demo emulator per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported anywhere

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")  # keeps pyplot under its "too many open figures" warning


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The emulator with the demo data set (seed number 0), shared by this directory's tests.

    On a file, so that a notebook kernel can be pointed at it (``KAMELEOON_EMULATOR_DB``).
    """
    from kameleoon_pandas.emulator import serve

    db = tmp_path_factory.mktemp("emulator") / "demo.sqlite"
    with serve(db=str(db), seed="demo", random_seed=0) as srv:
        yield srv


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML file of ``run_demo`` (executed once per session; the browser tests open it)."""
    from kameleoon_pandas.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("reports"), random_seed=0, progress=False)


@pytest.fixture(scope="session")
def demo_client(demo_server: Any) -> Iterator[Any]:
    import kameleoon_pandas as kp

    env = demo_server.env()
    with kp.Client(
        site_codes=demo_server.site_codes,
        base_url=demo_server.url,
        token_url=demo_server.token_url,
        client_id=env["KAMELEOON_CLIENT_ID"],
        client_secret=env["KAMELEOON_CLIENT_SECRET"],
    ) as client:
        yield client

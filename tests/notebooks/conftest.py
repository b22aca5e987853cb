"""Fixtures for the notebook experience: a headless matplotlib and the demo report.

The demo emulator (``demo_server``, ``demo_client``) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported anywhere

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")  # keeps pyplot under its "too many open figures" warning


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML file of ``run_demo`` (executed once per session; the browser tests open it)."""
    from kameleoon_pandas.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("reports"), random_seed=0, progress=False)


def pytest_configure(config: pytest.Config) -> None:
    # xdist registers this marker; without xdist (``-p no:xdist``) --strict-markers would refuse it.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")

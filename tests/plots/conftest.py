"""A headless matplotlib for the plot tests; the demo emulator comes from ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported anywhere

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")  # keeps pyplot under its "too many open figures" warning

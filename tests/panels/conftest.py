"""A headless matplotlib for the panel tests; the demo emulator comes from ``tests/conftest.py``.

Panels draw on pyplot-free Figures; closing pyplot's figures after each test still guards
against a plot that falls back to pyplot.
"""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported anywhere

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")

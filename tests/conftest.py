"""Test setup for the whole suite: no test sees the developer's own KAMELEOON_* settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _clean_kameleoon_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KAMELEOON_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The project's own test data: ``tests/data`` (recorded official-SDK requests in ``wire/``)."""
    return DATA

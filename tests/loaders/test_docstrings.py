"""The loaders' docstrings: numpydoc sections, every parameter documented, the shared
parameters filled in from ``_docs.SHARED``."""

from __future__ import annotations

import inspect
import re

import pytest
from numpydoc_sections import documented, sections

import kameleoon_pandas as kp
from kameleoon_pandas import _docs

LOADERS = [kp.read_product_counters, kp.read_product_data, kp.read_visitor_feeds, kp.read_maps]


@pytest.mark.parametrize("function", LOADERS, ids=lambda f: f.__name__)
def test_loader_docstrings_are_numpydoc_and_complete(function) -> None:
    doc = function.__doc__
    parts = sections(doc)
    summary = parts[""].strip().splitlines()[0]
    assert summary.startswith("Read ") and summary.endswith(".") and len(summary) <= 100
    assert {"Parameters", "Returns", "Raises", "See Also", "Examples"} <= set(parts)
    assert documented(parts["Parameters"]) == list(inspect.signature(function).parameters)
    assert "DataFrame" in parts["Returns"] and "ValidationError" in parts["Raises"]


@pytest.mark.parametrize("function", LOADERS, ids=lambda f: f.__name__)
def test_the_shared_parameters_are_written_once(function) -> None:
    doc = function.__doc__
    assert not re.search(r"^\s*\{[a-z_]+\}\s*$", doc, re.MULTILINE), "unfilled placeholder"
    for name in ("client", "site_code", "progress", "dtype_backend", "backend"):
        assert _docs.SHARED[name] in doc, name

"""The Dask verbs' docstrings (numpydoc, every parameter documented, examples that run) and
the rule that only ``kameleoon_pandas.dask`` imports dask."""

from __future__ import annotations

import ast
import doctest
import inspect
import re
from pathlib import Path

import pytest
from dask_helpers import dask
from numpydoc_sections import documented, sections

import kameleoon_pandas
import kameleoon_pandas.dask as kd
from kameleoon_pandas.dask import accessor, writers

pytestmark = [pytest.mark.dask, pytest.mark.xdist_group("dask")]

WRITERS = [kd.push_events, kd.push_product_events, kd.push_maps, kd.forget_visitors]
LOADERS = [kd.read_visitor_feeds, kd.read_product_counters, kd.read_product_data, kd.read_maps]


def signature_names(function) -> list[str]:
    return [
        ("**" if p.kind is p.VAR_KEYWORD else "") + p.name
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize("function", WRITERS + LOADERS, ids=lambda f: f.__name__)
def test_docstrings_are_numpydoc_and_complete(function) -> None:
    doc = function.__doc__
    assert not re.search(r"^\s*\{[a-z_]+\}\s*$", doc, re.MULTILINE), "unfilled placeholder"
    parts = sections(doc)
    summary = parts[""].strip().splitlines()[0]
    assert summary.endswith(".") and len(summary) <= 100
    assert {"Parameters", "Returns", "Raises", "See Also", "Examples"} <= set(parts)
    assert documented(parts["Parameters"]) == signature_names(function)
    assert "ValidationError" in parts["Raises"]
    assert "The secret never appears" in doc  # the client parameter says where it goes
    if function in WRITERS:
        assert "PushReport" in parts["Returns"]
    else:
        assert "meta" in parts["Returns"]


def test_event_writers_explain_exactly_once_across_partitions() -> None:
    for function in (kd.push_events, kd.push_product_events):
        notes = " ".join(sections(function.__doc__)["Notes"].split())
        assert "rank" in notes and "shuffle" in notes and "silent data loss" in notes


@pytest.mark.parametrize(
    ("module", "examples"), [(writers, 20), (accessor, 5)], ids=["writers", "accessor"]
)
def test_the_examples_run(module, examples) -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    with dask.config.set(scheduler="sync"):  # dry runs, in this process
        for test in finder.find(module, module.__name__):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= examples


def test_only_the_dask_room_imports_dask() -> None:
    root = Path(kameleoon_pandas.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if (root / "dask") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("dask", "distributed") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []

"""The writers' and the report's docstrings: numpydoc sections, every parameter documented,
the shared parameters filled in from ``_docs.SHARED``, and examples that run."""

from __future__ import annotations

import doctest
import inspect
import re

import pytest
from numpydoc_sections import documented, sections

import kameleoon_pandas as kp
from kameleoon_pandas import _docs, accessor, report, writers

WRITERS = [kp.push_events, kp.push_product_events, kp.push_maps, kp.forget_visitors]


def signature_names(function) -> list[str]:
    return [
        ("**" if p.kind is p.VAR_KEYWORD else "") + p.name
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize("function", WRITERS, ids=lambda f: f.__name__)
def test_writer_docstrings_are_numpydoc_and_complete(function) -> None:
    doc = function.__doc__
    parts = sections(doc)
    summary = parts[""].strip().splitlines()[0]
    assert summary.endswith(".") and len(summary) <= 100
    assert {"Parameters", "Returns", "Raises", "See Also", "Examples"} <= set(parts)
    assert documented(parts["Parameters"]) == signature_names(function)
    assert "PushReport" in parts["Returns"] and "ValidationError" in parts["Raises"]


@pytest.mark.parametrize("function", WRITERS, ids=lambda f: f.__name__)
def test_the_shared_parameters_are_written_once(function) -> None:
    doc = function.__doc__
    assert not re.search(r"^\s*\{[a-z_]+\}\s*$", doc, re.MULTILINE), "unfilled placeholder"
    for name in ("client", "site_code", "dry_run", "progress"):
        assert _docs.SHARED[name] in doc, name


def test_event_writers_say_what_exactly_once_rests_on() -> None:
    for function in (kp.push_events, kp.push_product_events):
        notes = " ".join(sections(function.__doc__)["Notes"].split())
        assert "index label" in notes and "nonce" in notes and "site code" in notes
        # issue 9: what the nonce is made of, and what breaks exactly once
        assert "key=" in notes and "rank" in notes and "What breaks it" in notes
        assert "Warns" in sections(function.__doc__)


def test_push_report_documents_its_attributes_and_methods() -> None:
    parts = sections(inspect.getdoc(kp.PushReport))
    assert {"Attributes", "Examples"} <= set(parts)
    fields = [f for f in kp.PushReport.__dataclass_fields__ if not f.startswith("_")]
    attributes = documented(parts["Attributes"])
    assert set(fields) | {"invalid_rows", "failed_rows", "ok"} == set(attributes)
    for name in ("raise_for_failures", "retry"):
        method_parts = sections(inspect.getdoc(getattr(kp.PushReport, name)))
        assert {"Returns", "Raises", "Examples"} <= set(method_parts), name
    for name in ("invalid_rows", "failed_rows", "ok"):
        assert inspect.getdoc(getattr(kp.PushReport, name)), name


@pytest.mark.parametrize("module", [writers, report, accessor], ids=lambda m: m.__name__)
def test_the_examples_run(module) -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module) if t.examples]
    assert tests
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0

"""kp.spark's public functions: numpydoc sections, every parameter documented in order, their
runnable examples pass; and ``import kameleoon_pandas`` alone never imports PySpark."""

from __future__ import annotations

import doctest
import inspect
import subprocess
import sys

import pytest
from numpydoc_sections import documented, sections

from .helpers import import_spark

kps = import_spark()

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

FUNCTIONS = [getattr(kps, name) for name in kps.__all__ if inspect.isfunction(getattr(kps, name))]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_public_functions_are_numpydoc_and_complete(function) -> None:
    doc = inspect.getdoc(function)
    parts = sections(doc)
    summary = parts[""].strip().splitlines()[0]
    assert summary.endswith(".") and len(summary) <= 100
    assert "Examples" in parts
    if inspect.signature(function).return_annotation not in (None, "None"):
        assert "Returns" in parts
    params = [p.lstrip("*") for p in documented(parts.get("Parameters", ""))]
    assert params == list(inspect.signature(function).parameters)
    assert "{" not in parts.get("Parameters", "").split("\n")[0]  # placeholders filled


@pytest.mark.parametrize(
    "function",
    [kps.spark_schema, kps.result_schema, kps.report_dir, kps.client_options],
    ids=lambda f: f.__name__,
)
def test_the_runnable_examples_pass(function) -> None:
    (test,) = doctest.DocTestFinder().find(function, globs=vars(sys.modules[function.__module__]))
    result = doctest.DocTestRunner().run(test)
    assert result.failed == 0 and result.attempted > 0


def test_importing_the_package_does_not_import_pyspark() -> None:
    code = "import sys, kameleoon_pandas; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

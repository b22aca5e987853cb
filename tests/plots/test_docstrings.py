"""The plot functions' docstrings: numpydoc sections, every parameter documented."""

from __future__ import annotations

import doctest
import inspect

import pandas as pd
import pytest
from numpydoc_sections import documented, sections

from kameleoon_pandas import plots

PUBLIC = [getattr(plots, name) for name in plots.__all__] + [plots.describe_freq]


def test_every_public_function_is_checked() -> None:
    functions = {n for n, v in vars(plots).items() if inspect.isfunction(v) and n[0] != "_"}
    assert functions == {f.__name__ for f in PUBLIC}


@pytest.mark.parametrize("function", PUBLIC, ids=lambda f: f.__name__)
def test_plot_docstrings_are_numpydoc_and_complete(function) -> None:
    parts = sections(inspect.getdoc(function))
    summary = parts[""].strip().splitlines()
    assert summary[0].endswith(".") and len(summary[0]) <= 100
    assert len(summary) == 1 or summary[1] == ""  # a one-line summary
    assert {"Parameters", "Returns", "Examples"} <= set(parts)
    assert documented(parts["Parameters"]) == list(inspect.signature(function).parameters)
    if function is not plots.describe_freq:
        assert "Raises" in parts and "ValidationError" in parts["Raises"]
        assert "matplotlib.axes.Axes" in parts["Returns"]
        assert f"kp.plots.{function.__name__}(" in parts["Examples"]


def test_describe_freq_examples_hold() -> None:
    finder = doctest.DocTestFinder()
    (test,) = finder.find(
        plots.describe_freq, globs={"describe_freq": plots.describe_freq, "pd": pd}
    )
    result = doctest.DocTestRunner().run(test)
    assert result.attempted == 3 and result.failed == 0

"""The public experiment functions and the panel: numpydoc sections, every parameter documented."""

from __future__ import annotations

import doctest
import inspect

import pytest
from numpydoc_sections import documented, sections

import kameleoon_pandas.experiments as ke
from kameleoon_pandas import plots
from kameleoon_pandas.frames import experiments as fe
from kameleoon_pandas.panels.experiment import ExperimentPanel


def documented_bare(block: str) -> list[str]:
    """``documented``, with ``**options`` named ``options`` as in the signature."""
    return [name.lstrip("*") for name in documented(block)]


@pytest.mark.parametrize(
    "function",
    [ke.experiment_results, ke.read_experiment, ke.beta_comparison, plots.plot_experiment],
    ids=lambda f: f.__name__,
)
def test_public_functions_are_numpydoc_and_complete(function) -> None:
    parts = sections(inspect.getdoc(function))
    summary = parts[""].strip().splitlines()
    assert summary[0].endswith(".") and len(summary[0]) <= 100
    assert len(summary) == 1 or summary[1] == ""
    assert {"Parameters", "Returns", "Examples"} <= set(parts)
    assert documented_bare(parts["Parameters"]) == list(inspect.signature(function).parameters)
    assert "{" + "client}" not in inspect.getdoc(function)  # shared pieces filled in


def test_the_read_outs_say_how_they_compute() -> None:
    doc = inspect.getdoc(ke.experiment_results)
    for phrase in ("ValidationError", "KameleoonWarning", "closed form", "no Monte Carlo"):
        assert phrase in doc, phrase
    assert "client : Client, optional" in inspect.getdoc(ke.read_experiment)
    module = ke.__doc__ or ""
    for name in ("test_proportions_2indep", "confint_proportions_2indep", "ttest_ind_from_stats"):
        assert name in module, name
    assert "negative=True" in (fe.__doc__ or "")


def test_signature_is_the_issues() -> None:
    parameters = inspect.signature(ke.experiment_results).parameters
    assert list(parameters) == [
        "feed",
        "experiment_id",
        "goal_id",
        "reference",
        "alpha",
        "metric",
        "weights",
        "correction",
        "exposures",
        "conversions",
        # issue 13: the result's type, as the loaders (None: the input's kind)
        "dtype_backend",
        "backend",
    ]
    assert parameters["backend"].default is None
    assert parameters["dtype_backend"].default == "numpy_nullable"
    assert all(p.kind is p.KEYWORD_ONLY for n, p in parameters.items() if n != "feed")
    assert parameters["alpha"].default == 0.05 and parameters["correction"].default is None


def test_the_panel_documents_its_parameters_and_controls() -> None:
    parts = sections(inspect.getdoc(ExperimentPanel))
    assert {"Parameters", "Attributes", "Examples"} <= set(parts)
    params = list(inspect.signature(ExperimentPanel.__init__).parameters)[1:]
    assert documented_bare(parts["Parameters"]) == params
    attributes = documented_bare(parts["Attributes"])
    panel = ExperimentPanel([], site_codes=["s1"])
    for name in attributes:
        assert hasattr(panel, name), name
    for control in ("experiment", "goal", "metric", "level", "correction", "visitor_codes"):
        assert control in attributes


def test_beta_comparison_example_holds() -> None:
    (test,) = doctest.DocTestFinder().find(
        ke.beta_comparison, globs={"beta_comparison": ke.beta_comparison}
    )
    result = doctest.DocTestRunner().run(test)
    assert result.attempted == 2 and result.failed == 0

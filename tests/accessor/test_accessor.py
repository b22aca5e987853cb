"""df.kam: every method has its module function's signature (frame removed) and docstring,
delegates to it, stays lazy for the plots, and holds nothing but the frame."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.accessor import KameleoonAccessor

#: df.kam.<method> -> (module, function) it delegates to.
METHODS = {
    "push_events": ("kameleoon_pandas.writers", "push_events"),
    "push_product_events": ("kameleoon_pandas.writers", "push_product_events"),
    "push_maps": ("kameleoon_pandas.writers", "push_maps"),
    "forget": ("kameleoon_pandas.writers", "forget_visitors"),
    "plot_counters": ("kameleoon_pandas.plots", "plot_counters"),
    "plot_top_products": ("kameleoon_pandas.plots", "plot_top_products"),
    "plot_funnel": ("kameleoon_pandas.plots", "plot_funnel"),
    "plot_timeline": ("kameleoon_pandas.plots", "plot_timeline"),
    "plot_conversions": ("kameleoon_pandas.plots", "plot_conversions"),
    "plot_experiment": ("kameleoon_pandas.plots", "plot_experiment"),
    "experiment_results": ("kameleoon_pandas.experiments", "experiment_results"),
}


def _target(name: str):
    module, function = METHODS[name]
    return getattr(importlib.import_module(module), function)


def test_the_accessor_has_exactly_the_listed_methods() -> None:
    public = {n for n in vars(KameleoonAccessor) if not n.startswith("_")}
    assert public == set(METHODS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_method_has_the_signature_and_docstring_of_its_function(name) -> None:
    pytest.importorskip("matplotlib")
    df = pd.DataFrame({"visitor_code": ["v"]})
    method, target = getattr(df.kam, name), _target(name)
    full = inspect.signature(target)
    first, *rest = full.parameters.values()
    assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD  # the frame
    assert inspect.signature(method) == full.replace(parameters=rest)
    assert method.__doc__ == target.__doc__
    assert method.__doc__ and "{client}" not in method.__doc__
    # Jupyter's ?? shows the real source; the method is named as the accessor attribute.
    assert inspect.unwrap(method) is target
    assert method.__name__ == name and method.__qualname__ == f"KameleoonAccessor.{name}"


def test_the_writer_methods_match_the_public_functions() -> None:
    df = pd.DataFrame({"visitor_code": ["v"]})
    for method, function in (
        (df.kam.push_events, kp.push_events),
        (df.kam.push_product_events, kp.push_product_events),
        (df.kam.push_maps, kp.push_maps),
        (df.kam.forget, kp.forget_visitors),
    ):
        full = inspect.signature(function)
        assert inspect.signature(method) == full.replace(
            parameters=list(full.parameters.values())[1:]
        )
        assert method.__doc__ == function.__doc__
    # what Shift-Tab shows (it was ``(**kwargs)``)
    assert list(inspect.signature(df.kam.push_maps).parameters) == [
        "key",
        "ttl_hours",
        "client",
        "site_code",
        "dry_run",
        "progress",
    ]


def _same(a: kp.PushReport, b: kp.PushReport) -> None:
    assert (a.operation, a.site_code, a.rows, a.valid, a.sent, a.batches, a.dry_run) == (
        b.operation,
        b.site_code,
        b.rows,
        b.valid,
        b.sent,
        b.batches,
        b.dry_run,
    )
    pd.testing.assert_frame_equal(a.invalid, b.invalid)


def test_every_writer_through_the_accessor_is_the_module_function() -> None:
    events = pd.DataFrame({"visitor_code": ["v1", "", "v3"], "goal": [1, 2, 3]})
    via = events.kam.push_events("conversion", site_code="s", dry_run=True, goal_id="goal")
    direct = kp.push_events(events, "conversion", site_code="s", dry_run=True, goal_id="goal")
    _same(via, direct)
    assert (via.valid, via.invalid_rows) == (2, 1)

    products = pd.DataFrame({"sku": ["A", "B"], "quantity": [1, 2]})
    via = products.kam.push_product_events("purchase", ean="sku", site_code="s", dry_run=True)
    direct = kp.push_product_events(products, "purchase", ean="sku", site_code="s", dry_run=True)
    _same(via, direct)
    assert via.valid == 2

    maps = pd.DataFrame({"id": ["k1", "k2", "k2"], "tier": ["gold", "silver", "bronze"]})
    via = maps.kam.push_maps("id", 24, site_code="s", dry_run=True)  # positional, as kp.push_maps
    _same(via, kp.push_maps(maps, "id", 24, site_code="s", dry_run=True))
    assert (via.valid, via.invalid_rows) == (1, 2)

    codes = pd.DataFrame({"code": ["v1", "v1", "v2"]})
    via = codes.kam.forget(visitor_code="code", site_code="s", dry_run=True)
    _same(via, kp.forget_visitors(codes, visitor_code="code", site_code="s", dry_run=True))
    assert (via.rows, via.valid) == (3, 3)


def test_wrong_arguments_fail_as_they_would_on_the_function() -> None:
    df = pd.DataFrame({"visitor_code": ["v"]})
    with pytest.raises(TypeError):
        df.kam.forget("visitor_code")  # keyword-only, as in kp.forget_visitors
    with pytest.raises(TypeError):
        df.kam.push_maps("key", None, "extra")


def test_the_accessor_holds_nothing_but_the_frame() -> None:
    df = pd.DataFrame({"visitor_code": ["v"], "goal_id": [1]})
    df.kam.push_events("conversion", site_code="s", dry_run=True)
    assert list(vars(df.kam)) == ["_df"] and df.kam._df is df


def test_the_accessor_refuses_duplicate_column_names_with_attribute_error() -> None:
    df = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with pytest.raises(AttributeError, match=r"unique column names; duplicated: \['a'\]"):
        df.kam  # noqa: B018
    assert not hasattr(df, "kam")  # what AttributeError means to hasattr and getattr(..., None)


def test_class_level_access_names_the_target_without_importing_it() -> None:
    descriptor = KameleoonAccessor.plot_counters
    assert "kameleoon_pandas.plots.plot_counters" in (descriptor.__doc__ or "")
    assert "kameleoon_pandas.plots.plot_counters" in repr(descriptor)


def test_plots_stay_lazy_until_a_plot_method_is_used() -> None:
    pytest.importorskip("matplotlib")
    code = (
        "import sys, inspect, pandas as pd, kameleoon_pandas as kp;"
        "from kameleoon_pandas.accessor import KameleoonAccessor;"
        "df = pd.DataFrame({'visitor_code': ['v']});"
        "inspect.signature(df.kam.push_events); KameleoonAccessor.plot_counters; help(df.kam);"
        "before = 'matplotlib' in sys.modules;"
        "sig = inspect.signature(df.kam.plot_counters);"
        "print(before, 'matplotlib' in sys.modules, 'ax' in sig.parameters)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["False", "True", "True"]

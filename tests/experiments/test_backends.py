"""The read-out with polars and pyarrow frames in and out: the same numbers as from pandas, the
input's kind back by default, ``backend=`` to choose; over loopback for ``read_experiment``."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import kameleoon_pandas as kp
import kameleoon_pandas.experiments as ke
from kameleoon_pandas.frames import backends as be
from kameleoon_pandas.frames.experiments import EXPERIMENT_RESULTS

from . import synthetic as syn
from .conftest import EXPERIMENT, VISITORS


@pytest.fixture(scope="module")
def feeds(experiment_client) -> dict[str, object]:
    """The experiment's feed read once per backend."""
    read = {
        "pandas": {},
        "polars": {"backend": "polars"},
        "pyarrow": {"backend": "pyarrow"},
        "pandas-arrow": {"dtype_backend": "pyarrow"},
    }
    return {
        name: kp.read_visitor_feeds(
            VISITORS,
            previous_visits=25,
            kinds=["experiment", "conversion"],
            client=experiment_client,
            progress=False,
            **options,
        )
        for name, options in read.items()
    }


@pytest.mark.parametrize("name", ["polars", "pyarrow", "pandas-arrow"])
def test_a_feed_of_any_backend_gives_the_pandas_numbers(feeds, name) -> None:
    expected = ke.experiment_results(feeds["pandas"], experiment_id=EXPERIMENT, goal_id=[1, 2])
    got = ke.experiment_results(feeds[name], experiment_id=EXPERIMENT, goal_id=[1, 2])
    if name == "polars":
        assert isinstance(got, pl.DataFrame)
    elif name == "pyarrow":
        assert isinstance(got, pa.Table)
        assert got.schema.metadata[b"metric"] == b"conversion_rate"
        assert got.schema.metadata[b"alpha"] == b"0.05"
    else:
        assert isinstance(got, pd.DataFrame)  # pandas in, pandas out (Arrow dtypes or not)
    pd.testing.assert_frame_equal(be.to_pandas(got), expected)
    assert expected.loc[expected["goal_id"] == 1, "visitors"].tolist() == [30, 35]


def test_backend_chooses_the_result_type_whatever_the_input(feeds) -> None:
    polars_in = feeds["polars"]
    as_pandas = ke.experiment_results(polars_in, experiment_id=EXPERIMENT, backend="pandas")
    assert isinstance(as_pandas, pd.DataFrame)
    assert {c: str(t) for c, t in as_pandas.dtypes.items()} == dict(EXPERIMENT_RESULTS)
    assert as_pandas.attrs == {"metric": "conversion_rate", "alpha": 0.05}
    table = ke.experiment_results(feeds["pandas"], experiment_id=EXPERIMENT, backend="pyarrow")
    assert table.schema.names == list(EXPERIMENT_RESULTS)
    assert table.schema.field("visitors").type == pa.int64()
    arrow = ke.experiment_results(
        feeds["pandas"], experiment_id=EXPERIMENT, dtype_backend="pyarrow"
    )
    assert all(isinstance(t, pd.ArrowDtype) for t in arrow.dtypes)


def test_warehouse_exports_as_polars_and_pyarrow() -> None:
    exposures = syn.exposures([("a", 7, 0, 0), ("b", 7, 1, 0), ("c", 7, 1, 0), ("d", 7, 0, 0)])
    conversions = syn.conversions([("a", 1, 5.0, 1), ("b", 1, 7.0, 2), ("c", 1, 1.0, 3)])
    expected = ke.experiment_results(exposures=exposures, conversions=conversions)
    for convert in (pl.from_pandas, lambda f: pa.Table.from_pandas(f, preserve_index=False)):
        got = ke.experiment_results(exposures=convert(exposures), conversions=convert(conversions))
        assert not isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(be.to_pandas(got), expected)
    # mixed kinds are fine: the result follows the exposures
    mixed = ke.experiment_results(exposures=pl.from_pandas(exposures), conversions=conversions)
    assert isinstance(mixed, pl.DataFrame)


def test_read_experiment_in_every_backend(experiment_client) -> None:
    expected = ke.read_experiment(
        VISITORS, EXPERIMENT, client=experiment_client, progress=False, reference=0
    )
    for options in ({"backend": "polars"}, {"backend": "pyarrow"}):
        got = ke.read_experiment(
            VISITORS, EXPERIMENT, client=experiment_client, progress=False, reference=0, **options
        )
        assert not isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(be.to_pandas(got), expected)


def test_bad_inputs_and_backends_name_the_parameter(experiment_client, monkeypatch) -> None:
    with pytest.raises(kp.ValidationError, match="exposures must be a pandas, polars or pyarrow"):
        ke.experiment_results(exposures="table", conversions=syn.conversions([]))
    feed = pl.DataFrame({"visitor_code": ["a"]})
    with pytest.raises(kp.ValidationError, match=r"the feed is missing column|feed is missing"):
        ke.experiment_results(feed)
    with pytest.raises(kp.ValidationError, match="backend must be one of"):
        ke.read_experiment(VISITORS, EXPERIMENT, client=experiment_client, backend="dask")
    calls = []
    monkeypatch.setattr("kameleoon_pandas.loaders.read_visitor_feeds", calls.append)
    monkeypatch.setitem(__import__("sys").modules, "polars", None)
    with pytest.raises(ImportError, match=r"kameleoon-pandas\[polars\]"):
        ke.read_experiment(VISITORS, EXPERIMENT, client=experiment_client, backend="polars")
    assert calls == []  # refused before any request

"""Dask loaders on a LocalCluster against the emulator: the declared schema as ``meta`` and in
every partition, the same rows as the pandas loaders, checks before any request."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from dask_helpers import dd

import kameleoon_pandas as kp
import kameleoon_pandas.dask as kd
from kameleoon_pandas.dask.loaders import _chunks
from kameleoon_pandas.frames.schemas import PRODUCT_COUNTERS, VISITOR_FEED, empty_frame

pytestmark = [pytest.mark.dask, pytest.mark.xdist_group("dask")]

#: What distributed's nannies set in their parent's environment before spawning a worker.
_NANNY_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED")
_ENV_AT_IMPORT = {name: os.environ.get(name) for name in _NANNY_ENV}


def test_the_cluster_leaves_this_process_environment_as_it_was(cluster) -> None:
    # Left set, they reached every process the rest of the run started from this worker.
    assert all(cluster.run(lambda: os.environ.get("OMP_NUM_THREADS")).values())  # the workers do
    assert {name: os.environ.get(name) for name in _NANNY_ENV} == _ENV_AT_IMPORT


def visit_events(codes: list[str]) -> pd.DataFrame:
    """A few event kinds per visitor, as a feed frame pushes them."""
    rows = []
    for i, code in enumerate(codes):
        rows += [
            {"visitor_code": code, "kind": "page", "href": f"https://shop.example/p/{i}"},
            {"visitor_code": code, "kind": "conversion", "goal_id": 1001, "revenue": 2.5 + i},
            {"visitor_code": code, "kind": "custom_data", "custom_data_index": 2, "value": "g"},
            {"visitor_code": code, "kind": "experiment", "experiment_id": 5, "variation_id": 51},
        ]
    return pd.DataFrame(rows)


def test_visitor_feeds_have_the_declared_schema_and_the_pandas_rows(
    cluster, srv, kp_client
) -> None:
    codes = [f"f{i:03d}" for i in range(30)]
    kp.push_events(visit_events(codes), client=kp_client)
    asked = [*codes, "nobody"]
    ddf = kd.read_visitor_feeds(asked, npartitions=4, client=kp_client)
    assert ddf.npartitions == 4
    assert ddf.dtypes.to_dict() == empty_frame(VISITOR_FEED).dtypes.to_dict()

    got = ddf.compute()
    want = kp.read_visitor_feeds(asked, client=kp_client)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want)
    assert len(got) == 4 * 30
    for i in range(ddf.npartitions):  # every partition, empty or not, is the schema
        part = ddf.partitions[i].compute()
        assert part.dtypes.to_dict() == ddf.dtypes.to_dict()


def test_a_dask_series_of_codes_and_mapping_values(cluster, srv, kp_client) -> None:
    codes = [f"s{i:03d}" for i in range(10)]
    kp.push_events(visit_events(codes), client=kp_client)
    series = dd.from_pandas(pd.Series(codes), npartitions=3)
    lazy = kd.read_visitor_feeds(series, kinds=["conversion"], client=kp_client)
    feed = lazy.compute()
    declared = empty_frame(VISITOR_FEED).dtypes.to_dict()
    assert lazy.dtypes.to_dict() == feed.dtypes.to_dict() == declared
    assert sorted(feed["visitor_code"]) == codes
    assert set(feed["kind"]) == {"conversion"}
    by_mapping = kd.read_visitor_feeds(["m1"], by="mapping_value", client=kp_client)
    assert list(by_mapping.columns)[-1] == "mapping_value"


def test_product_counters_cut_their_windows_once_on_the_driver(cluster, srv, kp_client) -> None:
    eans = [f"E{i:03d}" for i in range(250)]
    views = pd.DataFrame({"ean": eans * 2})
    kp.push_product_events(views, "product_page", client=kp_client)
    ddf = kd.read_product_counters(eans, freq="6h", npartitions=2, client=kp_client)
    assert ddf.dtypes.to_dict() == empty_frame(PRODUCT_COUNTERS).dtypes.to_dict()
    first, later = ddf.compute(), ddf.compute()  # the same windows, whenever it runs
    pd.testing.assert_frame_equal(first, later)
    start, end = first["window_start"].min(), first["window_end"].max()
    assert end - start in (pd.Timedelta(hours=24), pd.Timedelta(hours=30))  # on the 6h grid
    want = kp.read_product_counters(eans, start=start, end=end, freq="6h", client=kp_client)
    pd.testing.assert_frame_equal(first.reset_index(drop=True), want)
    assert first.groupby("ean")["views"].sum().eq(2).all()


def test_product_data_keeps_the_declared_and_the_named_attributes(cluster, srv, kp_client) -> None:
    pages = pd.DataFrame({"ean": ["P1", "P2"], "name": ["Mug", "Cup"], "color": ["red", None]})
    kp.push_product_events(pages, "product_page", client=kp_client)
    plain = kd.read_product_data(["P1", "P2"], client=kp_client)
    assert "color" not in plain.columns and "name" in plain.columns
    named = kd.read_product_data(["P1", "P2"], attributes={"color": "string"}, client=kp_client)
    got = named.compute()
    assert got["name"].tolist() == ["Mug", "Cup"]
    assert got["color"].dtype == "string" and got["color"].tolist() == ["red", pd.NA]


def test_maps_with_declared_fields_or_those_of_the_first_partition(cluster, srv, kp_client) -> None:
    keys = [f"k{i:03d}" for i in range(250)]
    tiers = pd.DataFrame({"key": keys, "tier": ["gold", "silver"] * 125, "points": range(250)})
    kp.push_maps(tiers, client=kp_client)
    declared = kd.read_maps(keys, fields={"points": "Int64"}, npartitions=3, client=kp_client)
    assert list(declared.columns) == ["site_code", "key", "points"]
    assert declared.compute()["points"].sum() == sum(range(250))
    learned = kd.read_maps(keys, npartitions=3, client=kp_client)
    assert list(learned.columns) == ["site_code", "key", "tier", "points"]
    got = learned.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, kp.read_maps(keys, client=kp_client))
    with pytest.raises(kp.ValidationError, match="needs fields="):
        kd.read_maps(dd.from_pandas(pd.Series(keys), 2), client=kp_client)


def test_arguments_are_checked_before_any_request(srv, kp_client) -> None:
    srv.reset()
    with pytest.raises(kp.ValidationError, match=r"visitor_codes\[1\]"):
        kd.read_visitor_feeds(["v1", ""], client=kp_client)
    with pytest.raises(kp.ValidationError, match="previous_visits"):
        kd.read_visitor_feeds(["v1"], previous_visits=99, client=kp_client)
    with pytest.raises(kp.ValidationError, match="npartitions"):
        kd.read_product_data(["E1"], npartitions=0, client=kp_client)
    with pytest.raises(kp.ValidationError, match="freq"):
        kd.read_product_counters(["E1"], freq="-1h", client=kp_client)
    with pytest.raises(kp.ValidationError, match="not a dtype"):
        kd.read_maps(["k"], fields={"x": "no-such-dtype"}, client=kp_client)
    assert sum(srv.counter.requests.values()) == 0


def test_partitions_are_runs_of_whole_calls() -> None:
    keys = [f"k{i}" for i in range(1_050)]
    chunks = _chunks(keys, 4, 100, 10_000)
    assert [len(c) for c in chunks] == [300, 300, 300, 150]  # 11 calls of 100 keys, split
    assert [k for chunk in chunks for k in chunk] == keys
    assert [len(c) for c in _chunks(keys, 50, 100, 10_000)] == [100] * 10 + [50]
    assert _chunks([], None, 100, 10_000) == [[]]
    assert len(_chunks(keys, None, 1, 1_000)) == 2


def test_the_clients_built_for_tasks_share_one_tls_context(kp_client, monkeypatch) -> None:
    # Loading the CA bundle takes about 20 ms: a client built per worker and settings must not
    # load it again (in the Dask tests, 3 of their 16 core-s).
    from httpx_aiohttp import AiohttpTransport

    from kameleoon_pandas.client import shared_tls_context
    from kameleoon_pandas.dask import _remote

    contexts = []

    class Recording(AiohttpTransport):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            contexts.append(self.ssl_context)

    monkeypatch.setattr(_remote, "AiohttpTransport", Recording)
    remote = _remote.remote_client(kp_client, max_in_flight=None, cluster=None)
    for _ in range(3):
        _remote._build(remote, None).close()
    assert len(contexts) == 3
    assert all(context is shared_tls_context() for context in contexts)

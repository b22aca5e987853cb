"""Dask loaders with ``dtype_backend="pyarrow"``: partitions and ``meta`` in the dtypes of the
pandas loaders' ``dtype_backend="pyarrow"``, with the same rows."""

from __future__ import annotations

import pandas as pd
import pytest

import kameleoon_pandas as kp
import kameleoon_pandas.dask as kd

pytestmark = [pytest.mark.dask, pytest.mark.xdist_group("dask")]


def _same_arrow_frame(ddf, want: pd.DataFrame) -> None:
    assert all(isinstance(t, pd.ArrowDtype) for t in ddf.dtypes)
    assert ddf.dtypes.to_dict() == want.dtypes.to_dict()
    for i in range(ddf.npartitions):  # every partition, empty or not, is the meta
        assert ddf.partitions[i].compute().dtypes.to_dict() == ddf.dtypes.to_dict()
    pd.testing.assert_frame_equal(ddf.compute().reset_index(drop=True), want)


def test_feeds_data_counters_and_maps_in_arrow_dtypes(cluster, srv, kp_client) -> None:
    codes = [f"a{i:03d}" for i in range(12)]
    visits = pd.DataFrame({"visitor_code": codes, "goal_id": 7, "revenue": 1.5})
    kp.push_events(visits, "conversion", client=kp_client)
    eans = [f"A{i:03d}" for i in range(120)]
    pages = pd.DataFrame({"ean": eans, "name": "Mug", "price": 2.5})
    kp.push_product_events(pages, "product_page", client=kp_client)
    keys = [f"ak{i:03d}" for i in range(120)]
    kp.push_maps(
        pd.DataFrame({"key": keys, "tier": "gold", "points": range(120)}), client=kp_client
    )
    arrow = {"dtype_backend": "pyarrow", "client": kp_client}

    feeds = kd.read_visitor_feeds([*codes, "nobody"], npartitions=3, **arrow)
    _same_arrow_frame(feeds, kp.read_visitor_feeds([*codes, "nobody"], **arrow))
    data = kd.read_product_data(eans, npartitions=2, **arrow)
    _same_arrow_frame(data, kp.read_product_data(eans, **arrow))
    maps = kd.read_maps(keys, npartitions=2, **arrow)
    _same_arrow_frame(maps, kp.read_maps(keys, **arrow))
    counters = kd.read_product_counters(eans, freq="12h", npartitions=2, **arrow)
    got = counters.compute()
    start, end = got["window_start"].min(), got["window_end"].max()
    want = kp.read_product_counters(eans, start=start, end=end, freq="12h", **arrow)
    _same_arrow_frame(counters, want)


def test_an_unknown_dtype_backend_is_refused_before_any_request(srv, kp_client) -> None:
    srv.reset()
    with pytest.raises(kp.ValidationError, match="dtype_backend"):
        kd.read_visitor_feeds(["v1"], dtype_backend="arrow", client=kp_client)
    assert sum(srv.counter.requests.values()) == 0

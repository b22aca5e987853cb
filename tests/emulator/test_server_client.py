"""``srv.client()`` gives a ready client; the server renders in Jupyter without its secret."""

from __future__ import annotations

import pandas as pd

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve


def test_srv_client_is_ready_and_takes_other_settings(tmp_path, demo_db) -> None:
    with serve(db=demo_db, seed="demo", require_auth=True) as srv:
        with srv.client() as client:
            assert isinstance(client, kp.Client)
            assert client.site_codes == srv.site_codes and client.site_code == srv.site_codes[0]
            assert client.settings.token_url == srv.token_url
            frame = pd.DataFrame({"key": ["k"], "a": [1]})
            kp.push_maps(frame, client=client).raise_for_failures()
            assert kp.read_maps(["k"], client=client)["a"].tolist() == [1]  # auth worked
        with srv.client(cache=tmp_path / "c.sqlite", site_code=srv.site_codes[1]) as other:
            assert other.site_code == srv.site_codes[1] and other.cache is not None


def test_the_server_renders_as_html_without_its_secret() -> None:
    with serve(client_secret="very-secret-value", fault_rate=0.1) as srv:
        shown = srv._repr_html_()
    assert srv.url in shown and srv.client_id in shown and "0.1 of requests" in shown
    assert "very-secret-value" not in shown and "very-secret-value" not in repr(srv)


def test_the_server_counts_the_requests_it_serves(demo_db) -> None:
    import httpx

    with serve(db=demo_db, seed="demo", require_auth=True) as srv:
        assert srv.request_count == 0 and srv.request_counts == {}
        ids = srv.state.identifiers(srv.site_codes[0], visitors=3, keys=0)
        with srv.client() as client:
            kp.read_product_data(ids["eans"][:2], client=client, progress=False)
            kp.read_visitor_feeds(ids["visitor_codes"], client=client, progress=False)
        before = srv.request_counts
        # Refused and unknown requests count too, without their query string.
        httpx.get(srv.url + "/map/map", params={"siteCode": "demosite01", "key": "k"})
        httpx.get(srv.url + "/no/such/path?x=1")
        added = srv.request_counts - before
    assert before == {
        "POST /oauth/token": 1,
        "GET /product/productData": 1,
        "GET /visit/visitor": 3,
    }
    assert added == {"GET /map/map": 1, "GET /no/such/path": 1}
    assert srv.request_count == 7

"""Loader input checks, windows and progress, over httpx.MockTransport."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.frames.schemas import MAP_KEYS, PRODUCT_COUNTERS, VISITOR_FEED
from kameleoon_pandas.loaders import time_windows

from .conftest import keys_param, no_network

H = 3_600_000
NOW = pd.Timestamp("2026-01-02 10:30:00", tz="UTC")
NOW_MS = int(NOW.value // 1_000_000)


def test_default_window_is_the_last_24_hours() -> None:
    assert time_windows(now=NOW) == [(NOW_MS - 24 * H, NOW_MS)]


@pytest.mark.parametrize(
    "start",
    [
        "2026-01-01 00:00",
        dt.datetime(2026, 1, 1),
        pd.Timestamp("2026-01-01"),
        dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        pd.Timestamp("2026-01-01T01:00:00+01:00"),
    ],
)
def test_naive_times_are_utc_and_aware_times_converted(start) -> None:
    begin = int(pd.Timestamp("2026-01-01", tz="UTC").value // 1_000_000)
    assert time_windows(start, "2026-01-01 03:00")[0] == (begin, begin + 3 * H)


def test_unaligned_freq_splits_into_consecutive_windows_last_one_shorter() -> None:
    windows = time_windows("2026-01-01 00:30", "2026-01-01 03:00", "1h", align=False)
    base = int(pd.Timestamp("2026-01-01 00:30", tz="UTC").value // 1_000_000)
    assert windows == [(base, base + H), (base + H, base + 2 * H), (base + 2 * H, base + 2.5 * H)]
    days = time_windows("2026-01-01 12:00", "2026-01-04", "1D", align=False)
    assert len(days) == 3 and days[0][0] + 24 * H == days[0][1]
    months = time_windows("2026-01-15", "2026-03-15", "MS", align=False)  # anchored
    assert [pd.Timestamp(a, unit="ms").day for a, _ in months] == [15, 1, 1]


def _stamps(windows: list[tuple[int, int]]) -> list[tuple[str, str]]:
    def text(ms: int) -> str:
        return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    return [(text(a), text(b)) for a, b in windows]


def test_aligned_windows_are_cut_on_the_frequency_grid_and_given_bounds_stay() -> None:
    hours = _stamps(time_windows("2026-01-01 00:30", "2026-01-01 03:00", "1h"))
    assert hours == [
        ("2026-01-01 00:30:00.000", "2026-01-01 01:00:00.000"),
        ("2026-01-01 01:00:00.000", "2026-01-01 02:00:00.000"),
        ("2026-01-01 02:00:00.000", "2026-01-01 03:00:00.000"),
    ]
    days = _stamps(time_windows("2026-01-01 12:00", "2026-01-04", "1D"))
    assert [b for _, b in days] == [f"2026-01-0{d} 00:00:00.000" for d in (2, 3, 4)]
    assert days[0][0] == "2026-01-01 12:00:00.000"
    quarters = _stamps(time_windows("2026-01-01 00:05", "2026-01-01 00:50", "15min"))
    assert [a[-12:] for a, _ in quarters] == [
        "00:05:00.000",
        "00:15:00.000",
        "00:30:00.000",
        "00:45:00.000",
    ]
    # 2026-01-07 is a Wednesday: weeks are cut on Mondays at midnight.
    weeks = _stamps(time_windows("2026-01-07 10:00", "2026-01-20", "W"))
    assert [a for a, _ in weeks] == [
        "2026-01-07 10:00:00.000",
        "2026-01-12 00:00:00.000",
        "2026-01-19 00:00:00.000",
    ]
    months = _stamps(time_windows("2026-01-15 08:00", "2026-03-15", "MS"))
    assert [a[:10] for a, _ in months] == ["2026-01-15", "2026-02-01", "2026-03-01"]


def test_the_default_range_is_widened_to_whole_windows() -> None:
    now = pd.Timestamp("2026-01-02 04:27:07.448", tz="UTC")
    hours = _stamps(time_windows(freq="1h", now=now))
    assert len(hours) == 25  # the partial current hour included, as a whole window
    assert hours[0] == ("2026-01-01 04:00:00.000", "2026-01-01 05:00:00.000")
    assert hours[-1] == ("2026-01-02 04:00:00.000", "2026-01-02 05:00:00.000")
    days = _stamps(time_windows(freq="1D", now=now))
    assert days == [
        ("2026-01-01 00:00:00.000", "2026-01-02 00:00:00.000"),
        ("2026-01-02 00:00:00.000", "2026-01-03 00:00:00.000"),
    ]
    weeks = _stamps(time_windows(freq="W", now=now))  # 2026-01-02 is a Friday
    assert weeks == [("2025-12-29 00:00:00.000", "2026-01-05 00:00:00.000")]
    months = _stamps(time_windows(freq="MS", now=now))
    assert months == [("2026-01-01 00:00:00.000", "2026-02-01 00:00:00.000")]
    # A given end stays as given; only the default start is floored.
    given = _stamps(time_windows(end="2026-01-02 04:27", freq="1h"))
    assert given[0][0] == "2026-01-01 04:00:00.000"
    assert given[-1] == ("2026-01-02 04:00:00.000", "2026-01-02 04:27:00.000")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2026-01-02", "end": "2026-01-01"}, "start .* must be before end"),
        ({"start": "2026-01-01", "end": "2026-01-01"}, "must be before"),
        ({"start": "yesterday-ish"}, "start='yesterday-ish'"),
        ({"start": 1700000000}, "start must be a date"),
        ({"freq": "fortnightly"}, "freq='fortnightly'"),
        ({"start": "2020-01-01", "end": "2026-01-01", "freq": "1min"}, "more than"),
        # counted before any mark is made (was a 234 GiB MemoryError)
        ({"start": "2026-01-01", "end": "2026-12-31", "freq": "1ms"}, "more than 10000"),
        ({"freq": "0h"}, "freq='0h' must be a positive step"),  # was a ZeroDivisionError
        ({"freq": "-1h"}, "freq='-1h' must be a positive step"),  # was one window, silently
    ],
)
def test_bad_windows_are_refused_before_any_request(make_client, recorder, kwargs, message):
    client = make_client(no_network)
    with pytest.raises(kp.ValidationError, match=message):
        kp.read_product_counters(["a"], client=client, **kwargs)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: kp.read_product_counters(["ok", 42], client=c), r"eans\[1\] .*42"),
        (lambda c: kp.read_product_data(["E" * 101], client=c), r"eans\[0\] is 101 characters"),
        (lambda c: kp.read_maps([""], client=c), r"keys\[0\] is an empty string"),
        (lambda c: kp.read_maps(42, client=c), "keys must be a list of strings"),
        (lambda c: kp.read_visitor_feeds(["v"], kinds=["clicks"], client=c), "'clicks'"),
        (lambda c: kp.read_visitor_feeds(["v"], by="email", client=c), "'email'"),
        (lambda c: kp.read_visitor_feeds(["v"], previous_visits=30, client=c), "previous_visits"),
        (lambda c: kp.read_visitor_feeds([None], client=c), r"visitor_codes\[0\]"),
        (lambda c: kp.read_maps(["k"], client=c.async_client), "AsyncClient"),
    ],
)
def test_bad_input_is_refused_before_any_request(make_client, recorder, call, message) -> None:
    client = make_client(no_network)
    with pytest.raises(kp.ValidationError, match=message):
        call(client)
    assert recorder.requests == []


def test_empty_inputs_give_empty_typed_frames_without_requests(make_client, recorder) -> None:
    client = make_client(no_network)
    for frame, schema in (
        (kp.read_product_counters([], client=client), PRODUCT_COUNTERS),
        (kp.read_visitor_feeds([], client=client), VISITOR_FEED),
        (kp.read_maps([], client=client), MAP_KEYS),
    ):
        assert frame.empty and dict(frame.dtypes.astype(str)) == dict(schema)
    assert kp.read_product_data([], client=client).columns[:2].tolist() == ["site_code", "ean"]
    assert recorder.requests == []


def counters(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={k: {"v": 1, "atcq": 0, "bq": 0} for k in keys_param(request)})


def test_windows_and_chunks_are_all_requested(make_client, recorder) -> None:
    client = make_client(counters)
    eans = [f"e{i}" for i in range(150)]
    frame = kp.read_product_counters(
        eans, start="2026-01-01", end="2026-01-01 06:00", freq="2h", client=client
    )
    assert len(recorder.requests) == 3 * 2
    begins = sorted({int(r.url.params["timeBegin"]) for r in recorder.requests})
    assert len(begins) == 3 and begins[1] - begins[0] == 2 * H
    assert len(frame) == 450 and frame["ean"].iloc[::3].tolist() == eans


def test_duplicate_keys_are_asked_once_and_give_one_row(make_client, recorder) -> None:
    client = make_client(counters)
    frame = kp.read_product_counters(["a", "b", "a"], client=client)
    assert frame["ean"].tolist() == ["a", "b"]
    assert keys_param(recorder.requests[0]) == ["a", "b"]


def test_progress_bar_counts_requests_when_forced_on(make_client, capsys) -> None:
    client = make_client(counters)
    kp.read_product_counters(
        [f"e{i}" for i in range(250)], freq="12h", align=False, client=client, progress=True
    )
    err = capsys.readouterr().err
    assert "product counters" in err and "6/6" in err


def test_progress_bar_silent_when_not_interactive_or_forced_off(make_client, capsys) -> None:
    client = make_client(counters)
    kp.read_product_counters(["a"], client=client)  # pytest captures: not a terminal
    kp.read_product_counters(["a"], client=client, progress=False)
    assert capsys.readouterr().err == ""


def test_site_code_per_call_overrides_the_default(make_client, recorder) -> None:
    client = make_client(lambda r: httpx.Response(200, json={}))
    with pytest.warns(kp.KameleoonWarning, match="1 of 1 keys"):
        frame = kp.read_maps(["k"], client=client, site_code="other")
    assert recorder.requests[0].url.params["siteCode"] == "other"
    assert frame.empty


def test_notebook_bars_count_as_interactive() -> None:
    from tqdm import tqdm as text_bar
    from tqdm.auto import tqdm as auto_bar
    from tqdm.notebook import tqdm as widget_bar

    from kameleoon_pandas._progress import is_notebook_bar

    class AutoInNotebook(widget_bar):  # what tqdm.auto builds inside a Jupyter kernel
        pass

    assert is_notebook_bar(AutoInNotebook) and is_notebook_bar(widget_bar)
    assert not is_notebook_bar(text_bar) and not is_notebook_bar(auto_bar)

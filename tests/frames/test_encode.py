"""The pure part of the writers: validation, nonces, wire lines and chunking (no I/O)."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qsl, quote

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas import ValidationError
from kameleoon_pandas.frames import encode
from kameleoon_pandas.frames.encode import plan_product_events, plan_visit_events


def lines_of(plan: encode.EventPlan, **kw) -> list[str]:
    out = []
    for batch in plan.batches(**kw):
        out.extend(line for line in batch.body.decode("ascii").split("\n") if line)
    return out


def params(line: str) -> dict[str, str]:
    # the server's reading: percent-decoding, '+' a space, order free; each name once
    pairs = parse_qsl(line, keep_blank_values=True, strict_parsing=True)
    assert len({k for k, _ in pairs}) == len(pairs), f"a parameter repeats in {line}"
    return dict(pairs)


def conversions(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "visitor_code": [f"visitor{i:03d}" for i in range(n)],
            "goal_id": np.arange(1, n + 1),
            "revenue": np.round(np.linspace(0.5, 99.99, n), 2),
            "negative": [False] * n,
        }
    )


def test_conversion_lines_carry_every_field_and_a_nonce():
    df = conversions(3)
    got = [params(line) for line in lines_of(plan_visit_events(df, "conversion", site_code="s1"))]
    assert [{k: v for k, v in p.items() if k != "nonce"} for p in got] == [
        {
            "eventType": "conversion",
            "visitorCode": f"visitor{i:03d}",
            "goalId": str(i + 1),
            "revenue": repr(float(df.revenue[i])),
            "negative": "false",
        }
        for i in range(3)
    ]
    nonces = [p["nonce"] for p in got]
    assert all(len(n) == 16 and int(n, 16) >= 0 for n in nonces)
    assert len(set(nonces)) == 3


def test_nonces_are_stable_and_depend_on_site_and_content_not_the_label():
    df = conversions(4)
    first = lines_of(plan_visit_events(df, "conversion", site_code="s1"))
    assert lines_of(plan_visit_events(df.copy(), "conversion", site_code="s1")) == first
    other_site = lines_of(plan_visit_events(df, "conversion", site_code="s2"))
    relabelled = lines_of(
        plan_visit_events(df.set_axis([10, 11, 12, 13]), "conversion", site_code="s1")
    )
    changed = df.copy()
    changed.loc[0, "revenue"] = 1234.5
    changed_lines = lines_of(plan_visit_events(changed, "conversion", site_code="s1"))

    def nonce(line):
        return params(line)["nonce"]

    assert all(nonce(a) != nonce(b) for a, b in zip(first, other_site, strict=True))
    # issue 9: the index label no longer enters the nonce (it did: relabelled rows differed)
    assert [nonce(a) for a in first] == [nonce(b) for b in relabelled]
    assert nonce(changed_lines[0]) != nonce(first[0])
    assert [nonce(x) for x in changed_lines[1:]] == [nonce(x) for x in first[1:]]
    # the same row inside a bigger frame keeps its nonce
    assert nonce(
        lines_of(plan_visit_events(df.iloc[2:3], "conversion", site_code="s1"))[0]
    ) == nonce(first[2])


def test_identical_rows_at_different_labels_are_two_events():
    df = pd.DataFrame({"visitor_code": ["v", "v"], "goal_id": [1, 1], "revenue": [5.0, 5.0]})
    got = lines_of(plan_visit_events(df, "conversion", site_code="s"))
    assert len({params(x)["nonce"] for x in got}) == 2


def test_nonce_column_wins_and_is_validated():
    df = conversions(3)
    df["nonce"] = ["00000000000000AA", None, "not-hex"]
    plan = plan_visit_events(df, "conversion", site_code="s")
    got = [params(x) for x in lines_of(plan)]
    assert got[0]["nonce"] == "00000000000000AA"
    assert len(got[1]["nonce"]) == 16 and got[1]["nonce"] != "00000000000000AA"
    assert len(got) == 2
    inv = plan.invalid
    assert inv.to_dict("records") == [
        {"index": 2, "column": "nonce", "reason": "not 16 hexadecimal characters"}
    ]


def test_special_characters_and_unicode_round_trip():
    tricky = ["a&b=c", "plus+sign and space", "line\nbreak", "été 東京 🎉", "100%", "x;y/z?#"]
    df = pd.DataFrame(
        {
            "visitor_code": tricky,
            "href": [f"https://x.example/{t}?q={t}" for t in tricky],
            "title": tricky,
        }
    )
    got = [params(x) for x in lines_of(plan_visit_events(df, "page", site_code="s"))]
    assert [p["visitorCode"] for p in got] == tricky
    assert [p["title"] for p in got] == tricky
    assert [p["href"] for p in got] == list(df.href)
    for line in lines_of(plan_visit_events(df, "page", site_code="s")):
        assert line.isascii() and "\n" not in line


def test_invalid_rows_are_reported_and_valid_rows_still_go():
    df = pd.DataFrame(
        {
            "visitor_code": ["ok1", "", "x" * 101, "ok2", "ok3", "ok4", None, "ok5"],
            "goal_id": [1, 2, 3, 4.5, "seven", 6, 7, 8],
            "revenue": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan, 7.0, np.inf],
        },
        index=list("abcdefgh"),
    )
    plan = plan_visit_events(df, "conversion", site_code="s")
    got = [params(x) for x in lines_of(plan)]
    assert [p["visitorCode"] for p in got] == ["ok1"]
    inv = plan.invalid
    assert set(map(tuple, inv[["index", "column"]].to_numpy().tolist())) == {
        ("b", "visitor_code"),
        ("c", "visitor_code"),
        ("d", "goal_id"),
        ("e", "goal_id"),
        ("f", "revenue"),
        ("g", "visitor_code"),
        ("h", "revenue"),
    }
    reasons = dict(zip(inv["index"], inv["reason"], strict=False))
    assert reasons["b"] == "empty identifier"
    assert reasons["c"] == "longer than 100 characters"
    assert reasons["d"] == "not an integer"
    assert reasons["e"] == "not a number"
    assert reasons["h"] == "not a finite number"
    assert reasons["f"].startswith("missing value")


def test_a_100_character_code_is_fine():
    df = pd.DataFrame({"visitor_code": ["x" * 100], "goal_id": [1]})
    plan = plan_visit_events(df, "conversion", site_code="s")
    assert len(lines_of(plan)) == 1 and plan.invalid.empty


def test_missing_columns_raise_naming_them():
    with pytest.raises(ValidationError, match="goal_id"):
        plan_visit_events(pd.DataFrame({"visitor_code": ["v"]}), "conversion", site_code="s")
    with pytest.raises(ValidationError, match="visitor_code"):
        plan_visit_events(pd.DataFrame({"goal_id": [1]}), "conversion", site_code="s")
    with pytest.raises(ValidationError, match="kind"):
        plan_visit_events(pd.DataFrame({"visitor_code": ["v"], "goal_id": [1]}), site_code="s")
    with pytest.raises(ValidationError, match="unknown kind"):
        plan_visit_events(conversions(1), "purchase", site_code="s")
    with pytest.raises(ValidationError, match="goal_id='goal'"):
        plan_visit_events(conversions(1), "conversion", site_code="s", columns={"goal_id": "goal"})
    with pytest.raises(ValidationError, match="unknown column parameter"):
        plan_visit_events(
            conversions(1), "conversion", site_code="s", columns={"gaol_id": "goal_id"}
        )


def test_column_mapping_renames():
    df = pd.DataFrame({"user": ["u1"], "goal": [7], "amount": [3.25]})
    plan = plan_visit_events(
        df,
        "conversion",
        site_code="s",
        columns={"visitor_code": "user", "goal_id": "goal", "revenue": "amount"},
    )
    p = params(lines_of(plan)[0])
    assert (p["visitorCode"], p["goalId"], p["revenue"]) == ("u1", "7", "3.25")


def test_unknown_kinds_in_a_kind_column_are_invalid_rows():
    df = pd.DataFrame(
        {
            "visitor_code": ["a", "b", "c"],
            "kind": ["conversion", "bogus", None],
            "goal_id": [1, 2, 3],
        }
    )
    plan = plan_visit_events(df, site_code="s")
    assert len(lines_of(plan)) == 1
    assert plan.invalid["reason"].tolist()[0] == "missing kind" or "unknown kind" in " ".join(
        plan.invalid["reason"]
    )
    assert sorted(plan.invalid["index"]) == [1, 2]


def test_every_visit_kind_encodes():
    df = pd.DataFrame(
        {
            "visitor_code": ["v"] * 8,
            "kind": [
                "conversion",
                "page",
                "experiment",
                "personalization",
                "geolocation",
                "static_data",
                "targeting_segment",
                "custom_data",
            ],
            "goal_id": [4321, None, None, None, None, None, None, None],
            "revenue": [59.9, None, None, None, None, None, None, None],
            "metadata": [{"store": "Lyon"}, None, None, None, None, None, None, None],
            "href": [None, "https://shop.example/cart", None, None, None, None, None, None],
            "referrers_indices": [None, [1, 2], None, None, None, None, None, None],
            "experiment_id": [None, None, 555, None, None, None, None, None],
            "personalization_id": [None, None, None, 12, None, None, None, None],
            "variation_id": [None, None, 777, 34, None, None, None, None],
            "country": [None, None, None, None, "France", None, None, None],
            "latitude": [None, None, None, None, 48.85, None, None, None],
            "browser": [None, None, None, None, None, "SAFARI", None, None],
            "os": [None, None, None, None, None, "mac", None, None],
            "device_type": [None, None, None, None, None, "PHONE", None, None],
            "targeting_segment_id": [None, None, None, None, None, None, 9, None],
            "custom_data_index": [None, None, None, None, None, None, None, 3],
            "value": [None, None, None, None, None, None, None, "gold"],
            "count": [None, None, None, None, None, None, None, 2],
        }
    )
    plan = plan_visit_events(df, site_code="s")
    got = [params(x) for x in lines_of(plan)]
    assert plan.invalid.empty
    by_type = {p["eventType"]: p for p in got}
    assert json.loads(by_type["conversion"]["metadata"]) == {"store": "Lyon"}
    assert json.loads(by_type["page"]["referrersIndices"]) == [1, 2]
    assert (by_type["experiment"]["id"], by_type["experiment"]["variationId"]) == ("555", "777")
    assert by_type["personalization"]["id"] == "12"
    assert (by_type["geolocation"]["country"], by_type["geolocation"]["latitude"]) == (
        "France",
        "48.85",
    )
    assert by_type["staticData"]["browserIndex"] == "3"
    assert (by_type["staticData"]["os"], by_type["staticData"]["deviceType"]) == ("MAC", "PHONE")
    assert by_type["targetingSegment"]["id"] == "9"
    assert json.loads(by_type["customData"]["valuesCountMap"]) == {"gold": 2}


def test_custom_data_value_rows_group_back_into_one_event():
    t = pd.to_datetime(["2024-06-10 10:00", "2024-06-10 10:00", "2024-06-10 11:00"], utc=True)
    df = pd.DataFrame(
        {
            "visitor_code": ["v", "v", "v"],
            "kind": "custom_data",
            "time": t,
            "custom_data_index": [3, 3, 3],
            "value": ["gold", "silver&=\n", "gold"],
            "count": [1, 2, 5],
            "overwrite": [True, True, True],
        }
    )
    plan = plan_visit_events(df, site_code="s")
    got = [params(x) for x in lines_of(plan)]
    assert [json.loads(p["valuesCountMap"]) for p in got] == [
        {"gold": 1, "silver&=\n": 2},
        {"gold": 5},
    ]
    assert sorted(plan.rows_of(next(plan.batches()).events).tolist()) == [0, 1, 2]


def test_events_follow_time_when_the_frame_has_it():
    df = conversions(3)
    df["time"] = pd.to_datetime([3, 1, 2], unit="s", utc=True)
    got = [
        params(x)["visitorCode"]
        for x in lines_of(plan_visit_events(df, "conversion", site_code="s"))
    ]
    assert got == ["visitor001", "visitor002", "visitor000"]


def test_bodies_stay_under_the_limit_and_keep_every_line_in_order():
    df = conversions(2_000)
    plan = plan_visit_events(df, "conversion", site_code="s")
    whole = lines_of(plan)
    bodies = list(plan.batches(limit=10_000, slice_rows=700))
    assert len(bodies) > 10
    assert all(len(b.body) <= 10_000 for b in bodies)
    assert [x for b in bodies for x in b.body.decode().split("\n") if x] == whole
    assert np.concatenate([b.events for b in bodies]).tolist() == list(range(2_000))


def test_batch_split_halves_lines_and_events():
    plan = plan_visit_events(conversions(5), "conversion", site_code="s")
    batch = next(plan.batches())
    a, b = batch.split()
    assert a.events.tolist() == [0, 1] and b.events.tolist() == [2, 3, 4]
    assert a.body.split(b"\n") + b.body.split(b"\n") == batch.body.rstrip(b"\n").split(b"\n")


def test_an_empty_frame_gives_no_body():
    plan = plan_visit_events(conversions(0), "conversion", site_code="s")
    assert list(plan.batches()) == [] and plan.invalid.empty


def test_product_events():
    df = pd.DataFrame(
        {
            "ean": ["SKU-1", "SKU-2", "SKU-3", "SKU-4"],
            "kind": ["product_page", "add_to_cart", "purchase", "purchase"],
            "name": ["Café & thé", None, None, None],
            "price": [9.5, None, None, None],
            "categories": [[{"id": "1", "name": "Food", "parent": None}], None, None, None],
            "quantity": [None, 2, 1, 0],
        }
    )
    plan = plan_product_events(df, site_code="s")
    got = [params(x) for x in lines_of(plan)]
    assert [p["eventType"] for p in got] == ["productPage", "productAddToCart", "productBuy"]
    assert got[0]["name"] == "Café & thé" and got[0]["price"] == "9.5"
    assert json.loads(got[0]["categories"]) == [{"id": "1", "name": "Food", "parent": None}]
    assert got[1]["quantity"] == "2"
    assert plan.invalid[["index", "column", "reason"]].to_dict("records") == [
        {"index": 3, "column": "quantity", "reason": "must be at least 1"}
    ]


def test_map_records_leave_missing_cells_out():
    df = pd.DataFrame(
        {
            "key": ["k1", "k2", ""],
            "tier": ["gold", None, "x"],
            "score": [1.5, np.nan, 2.0],
            "tags": [["a"], None, None],
        }
    )
    keys, records, positions, problems = encode.map_records(df, "key")
    assert keys == ["k1", "k2"]
    assert records == [{"tier": "gold", "score": 1.5, "tags": ["a"]}, {}]
    assert positions.tolist() == [0, 1]
    assert problems.frame(df.index)["reason"].tolist() == ["empty key"]


def test_map_records_typed_columns_skip_the_json_check_but_not_infinities():
    df = pd.DataFrame(
        {
            "key": ["k1", "k2", "k3"],
            "score": [1.5, np.inf, np.nan],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "ok": pd.array([True, False, None], dtype="boolean"),
            "name": pd.array(["a", None, "c"], dtype="string"),
            "when": [object(), 1, None],
        }
    )
    keys, records, positions, problems = encode.map_records(df, "key")
    assert keys == ["k3"] and positions.tolist() == [2]
    assert records == [{"n": 3, "name": "c"}]
    assert type(records[0]["n"]) is int
    assert problems.frame(df.index).to_dict("records") == [
        {"index": 0, "column": "when", "reason": "not JSON-serialisable"},
        {"index": 1, "column": "score", "reason": "not JSON-serialisable"},
    ]


def test_chunk_codes_under_the_limit():
    codes = [f"code{i:06d}" for i in range(1_000)]
    chunks = encode.chunk_codes(codes, limit=1_000)
    assert [c for chunk in chunks for c in chunk] == codes
    assert all(len("\n".join(chunk)) <= 1_000 for chunk in chunks)


def test_duplicate_index_labels_are_fine_identical_rows_count_by_rank():
    # issue 9: duplicate labels were refused (the label entered the nonce); now they are fine
    df = pd.concat([conversions(2), conversions(2)])
    got = [params(x)["nonce"] for x in lines_of(plan_visit_events(df, "conversion", site_code="s"))]
    assert len(got) == 4 and len(set(got)) == 4
    df["nonce"] = [f"{i:016X}" for i in range(4)]
    assert len(lines_of(plan_visit_events(df, "conversion", site_code="s"))) == 4


def test_a_bad_value_row_refuses_its_whole_custom_data_event():
    df = pd.DataFrame(
        {
            "visitor_code": ["v", "v", "w"],
            "kind": "custom_data",
            "custom_data_index": [3, 3, 4],
            "value": ["gold", None, "x"],
            "count": [1, 1, 1],
        }
    )
    plan = plan_visit_events(df, site_code="s")
    got = [params(x) for x in lines_of(plan)]
    assert [p["visitorCode"] for p in got] == ["w"]
    assert plan.invalid.to_dict("records") == [
        {"index": 0, "column": "value", "reason": "another row of this event is invalid"},
        {"index": 1, "column": "value", "reason": "missing value"},
    ]


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["a", "b", "c"]),
        pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
        pd.MultiIndex.from_tuples([("x", 1), ("x", 2), ("y", 1)]),
        pd.Index([1.5, 2.5, 3.5]),
    ],
)
def test_nonces_for_every_kind_of_index_are_stable_and_distinct(index):
    df = pd.DataFrame({"visitor_code": ["v"] * 3, "goal_id": [1] * 3}, index=index)
    first = [
        params(x)["nonce"] for x in lines_of(plan_visit_events(df, "conversion", site_code="s"))
    ]
    again = [
        params(x)["nonce"]
        for x in lines_of(plan_visit_events(df.copy(), "conversion", site_code="s"))
    ]
    assert first == again and len(set(first)) == 3


def test_product_columns_can_be_renamed():
    df = pd.DataFrame({"sku": ["S1"], "title": ["Lamp"], "qty": [3]})
    page = plan_product_events(
        df, "product_page", site_code="s", columns={"ean": "sku", "name": "title"}
    )
    p = params(lines_of(page)[0])
    assert (p["ean"], p["name"], p["qty"]) == ("S1", "Lamp", "3")
    buy = plan_product_events(
        df, "purchase", site_code="s", columns={"ean": "sku", "quantity": "qty"}
    )
    assert params(lines_of(buy)[0])["quantity"] == "3"


# -- the byte-column encoder: what it writes is what Python would write ------------------------

MASK = 2**64 - 1
GOLD = 0x9E3779B97F4A7C15


def ref_mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def ref_text_hash(raw: bytes) -> int:
    h = len(raw) * GOLD
    for k in range(0, len(raw), 8):
        key = ((k >> 3) + 1) * GOLD & MASK
        h += ref_mix((int.from_bytes(raw[k : k + 8], "little") + key) & MASK) - ref_mix(key)
    return ref_mix(h & MASK)


def ref_number_hash(x: float) -> int:
    bits = int.from_bytes(np.float64(x).tobytes(), "little")
    return ref_mix(bits ^ 0x243F6A8885A308D3)


MISSING = 0x6A09E667F3BCC908
INT, FLOAT, BOOL = 0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0
TEXT, RANK, KEY_START = 0x082EFA98EC4E6C89, 0x9216D5D98979FB1B, 0xD1310BA698DFB5AC


def ref_seed(site: str, kind: str) -> int:
    digest = hashlib.blake2b(f"{site}\x1f{kind}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ref_value_hash(x) -> int:
    """v(x) of the nonces module docstring, one value at a time with Python integers."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return MISSING
    if isinstance(x, (bool, np.bool_)):
        return ref_mix(int(x) ^ BOOL)
    if isinstance(x, (int, np.integer)) or (
        isinstance(x, (float, np.floating))
        and np.isfinite(x)
        and float(x).is_integer()
        and abs(x) < 2**63
    ):
        return ref_mix((int(x) & MASK) ^ INT)
    if isinstance(x, (float, np.floating)):
        return ref_mix(int.from_bytes(np.float64(x).tobytes(), "little") ^ FLOAT)
    return ref_mix(ref_text_hash(x.encode()) ^ TEXT)


def ref_content_nonce(site: str, kind: str, row: dict, rank: int) -> str:
    c = 0
    for name, value in row.items():
        c += ref_mix(ref_value_hash(value) ^ ref_text_hash(str(name).encode()))
    h = ref_mix((c + ref_mix(rank ^ RANK)) & MASK)
    return f"{ref_mix(h ^ ref_seed(site, kind)):016X}"


def ref_key_nonce(site: str, kind: str, values: list) -> str:
    h = KEY_START
    for value in values:
        h = (h * GOLD + ref_value_hash(value)) & MASK
    return f"{ref_mix(ref_mix(h) ^ ref_seed(site, kind)):016X}"


def test_nonces_follow_the_documented_scheme():
    # issue 9: the scheme was label + sent values; now content by column name + rank, or key=
    codes = ["v1", "été 東京 🎉", "a&b=c\n", "x" * 100, "v1"]
    df = pd.DataFrame(
        {
            "visitor_code": codes,
            "goal_id": [7, 12, 7, 999_999, 7],
            "revenue": [19.99, -0.0, 0.1 + 0.2, 1e300, 19.99],
            "negative": [False, True, False, False, False],
            "order": [101.0, 102.0, np.nan, 104.5, 105.0],  # not sent: it counts all the same
        },
        index=[5, -3, 2**40, 0, 5],
    )
    got = [params(x) for x in lines_of(plan_visit_events(df, "conversion", site_code="s1"))]
    rows = df.astype(object).to_dict("records")
    want = [ref_content_nonce("s1", "conversion", row, 0) for row in rows]  # no two alike
    assert [p["nonce"] for p in got] == want
    assert [p["visitorCode"] for p in got] == codes
    # the columns' order does not matter; identical rows differ by rank
    twice = pd.concat([df.iloc[:1], df.iloc[:1]])[df.columns[::-1]]
    got = [
        params(x)["nonce"] for x in lines_of(plan_visit_events(twice, "conversion", site_code="s1"))
    ]
    assert got == [want[0], ref_content_nonce("s1", "conversion", rows[0], 1)]
    # with key=: only the key's values; 101.0 hashes as the integer 101
    keyed = df.iloc[[0, 1, 3, 4]]
    got = [
        params(x)["nonce"]
        for x in lines_of(plan_visit_events(keyed, "conversion", site_code="s1", key="order"))
    ]
    assert got == [ref_key_nonce("s1", "conversion", [v]) for v in [101, 102, 104.5, 105]]


def test_numbers_are_written_as_python_writes_them():
    rng = np.random.default_rng(7)
    floats = np.concatenate(
        [
            np.rint(rng.uniform(-1e10, 1e10, 300)) / 10.0 ** rng.integers(0, 5, 300),
            rng.normal(0, 1, 50),  # full precision: through repr
            [0.0, -0.0, 1.0, 0.5, 1e15, 5e15, 12345678901.25, 0.0001, 1e-5, 1e16, 1e300, 99.9],
        ]
    )
    ints = np.concatenate([rng.integers(-(2**52), 2**52, 300), [0, 1, -1, 999, 1000, 2**53 - 1]])
    for chunk in (floats, floats[:300], floats[300:], np.round(floats[:300], 2)):
        df = pd.DataFrame({"visitor_code": "v", "goal_id": 1, "revenue": chunk})
        got = [
            params(x)["revenue"]
            for x in lines_of(plan_visit_events(df, "conversion", site_code="s"))
        ]
        assert got == [repr(float(v)) for v in chunk]
    df = pd.DataFrame({"visitor_code": "v", "goal_id": ints})
    got = [
        params(x)["goalId"] for x in lines_of(plan_visit_events(df, "conversion", site_code="s"))
    ]
    assert got == [str(int(v)) for v in ints]


def test_a_row_is_the_same_line_whatever_its_slice_and_column_types():
    df = pd.DataFrame(
        {
            "visitor_code": [f"visitor-{i}" if i % 3 else f"v&{i}é" for i in range(40)],
            "goal_id": np.arange(40) * 37,
            "revenue": np.round(np.linspace(-5, 1000, 40), 2),
            "negative": [i % 5 == 0 for i in range(40)],
        }
    )
    whole = lines_of(plan_visit_events(df, "conversion", site_code="s"))
    assert lines_of(plan_visit_events(df, "conversion", site_code="s"), slice_rows=7) == whole
    as_text = df.astype({"goal_id": str, "revenue": object, "negative": str})

    def without_nonce(lines):
        return [line.rsplit("&nonce=", 1)[0] for line in lines]

    # issue 9: the nonce hashes the frame's values (a text "37" is not the number 37), so only
    # the sent parameters are the same when the column types change
    assert without_nonce(lines_of(plan_visit_events(as_text, "conversion", site_code="s"))) == (
        without_nonce(whole)
    )
    with_gaps = df.astype({"goal_id": "Int64"})
    with_gaps.loc[3, "revenue"] = np.nan  # refused; every other line unchanged
    plan = plan_visit_events(with_gaps, "conversion", site_code="s")
    assert lines_of(plan) == whole[:3] + whole[4:]
    assert plan.invalid["index"].tolist() == [3]


def test_long_texts_split_the_slice_and_report_each_problem_once(monkeypatch):
    df = pd.DataFrame(
        {
            "visitor_code": [f"v{i}" for i in range(300)],
            "href": [f"https://shop.example/{'p' * (i % 97)}?q={i}" for i in range(300)],
            "title": ["t&i = " * 30] * 300,
        }
    )
    df.loc[123, "visitor_code"] = "x" * 101
    expected = lines_of(plan_visit_events(df, "page", site_code="s"))
    # about 15 rows of these at a time (the budget lives where the line matrices are built)
    monkeypatch.setattr(encode.lines, "_MAX_CELLS", 4_000)
    plan = plan_visit_events(df, "page", site_code="s")
    assert lines_of(plan) == expected and len(expected) == 299
    assert plan.invalid.to_dict("records") == [
        {"index": 123, "column": "visitor_code", "reason": "longer than 100 characters"}
    ]


def test_byte_columns_percent_encode_like_quote():
    from kameleoon_pandas.frames import bytecols

    values = [
        "",
        "plain",
        "a&b=c+d e",
        "\x00\x01\n\r\t",
        "été 東京 🎉",
        "".join(map(chr, range(128))),
    ]
    buf, lens = bytecols.utf8_buffer(values)
    buf, lens = bytecols.percent_encode(buf, lens)
    mat = bytecols.pack(buf, lens)
    assert [bytes(row[:n]).decode() for row, n in zip(mat, lens, strict=True)] == [
        quote(v, safe="") for v in values
    ]
    # the padding never changes a hash
    wider = np.zeros((len(values), mat.shape[1] + 16), dtype=np.uint8)
    wider[:, : mat.shape[1]] = mat
    assert (bytecols.hash_matrix(wider, lens) == bytecols.hash_matrix(mat, lens)).all()
    assert bytecols.hash_matrix(mat, lens).tolist() == [
        ref_text_hash(quote(v, safe="").encode()) for v in values
    ]

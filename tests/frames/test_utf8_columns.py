"""Text columns as UTF-8 bytes (``encode.utf8``) and lines laid end to end (``lines._flat_lines``).

The encoder reads a text column once per plan into a :class:`Utf8` (the nonces hash it, the
lines carry it) and writes most slices' lines end to end with no padding to delete. Both are
checked here against the plain way: Python's own ``encode``/``len``, and the NUL-padded line
matrix the encoder falls back to.
"""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pandas as pd
import pytest

from kameleoon_pandas.frames import bytecols
from kameleoon_pandas.frames.encode import plan_visit_events
from kameleoon_pandas.frames.encode import plans as plans_module
from kameleoon_pandas.frames.encode import utf8 as utf8_module
from kameleoon_pandas.frames.encode.utf8 import column_utf8

ARROW = importlib.util.find_spec("pyarrow") is not None
ALPHABET = ["a", "b", "Z", "0", "-", "é", "東", "🎉", "\ud800", "\0", " ", "&", "~"]


def random_column(rnd: random.Random, n: int) -> tuple[list[str | None], list[object]]:
    """Cells of a text column (None missing) and the dtypes that can hold them."""
    mode = rnd.choice(["any", "no surrogate", "ascii", "one width", "no nul"])
    values = [
        "".join(rnd.choice(ALPHABET) for _ in range(rnd.choice([0, 1, 3, 8, 9, 16, 30])))
        for _ in range(n)
    ]
    if mode != "any":
        values = [v.replace("\ud800", "x") for v in values]
    if mode in ("ascii", "one width"):
        values = [v.encode("ascii", "replace").decode() for v in values]
    if mode == "one width":
        values = [(v + "pad" * 10)[:16] for v in values]
    if mode == "no nul":
        values = [v.replace("\0", "y") for v in values]
    cells: list[str | None] = list(values)
    if rnd.random() < 0.5:
        cells = [None if rnd.random() < 0.2 else v for v in values]
    dtypes: list[object] = [object]
    if "\ud800" not in "".join(values):  # Arrow and pandas' str refuse a lone surrogate
        dtypes.append(pd.StringDtype("python"))
        if ARROW:
            dtypes += [pd.StringDtype("pyarrow"), "large_string[pyarrow]"]
    return cells, dtypes


def rows_of(matrix: np.ndarray, lens: np.ndarray) -> list[bytes]:
    return [bytes(row[:n]) for row, n in zip(matrix, lens, strict=True)]


@pytest.mark.parametrize("block", [4, 4096])
def test_a_text_column_as_utf8_is_what_python_encodes(block, monkeypatch) -> None:
    monkeypatch.setattr(utf8_module, "_TEXT_BLOCK", block)  # one block of texts, or many
    rnd = random.Random(block)
    for _ in range(60):
        cells, dtypes = random_column(rnd, rnd.choice([0, 1, 2, 5, 50, 300]))
        want = [c.encode("utf-8", "surrogatepass") if c is not None else b"" for c in cells]
        for dtype in dtypes:
            u = column_utf8(pd.Series(cells, dtype=dtype))
            assert u is not None
            assert u.present.tolist() == [c is not None for c in cells]
            assert u.lens.tolist() == [len(b) for b in want]
            assert u.char_lens().tolist() == [len(c or "") for c in cells]
            assert rows_of(u.matrix(), u.lens) == want
            flat, lens = u.flat()
            assert bytes(flat) == b"".join(want) and lens.tolist() == [len(b) for b in want]
            assert u.surrogate_rows().tolist() == [
                c is not None and any(0xD800 <= ord(ch) <= 0xDFFF for ch in c) for c in cells
            ]
            if u.safe():  # may say no for a safe column, never yes for an unsafe one
                assert all(ch in bytecols.SAFE_BYTES.decode() for c in cells for ch in c or "")
            # the hashes the nonces take: hash_matrix of the bytes, however they are laid
            raw = np.frombuffer(b"".join(want), dtype=np.uint8)
            sizes = np.array([len(b) for b in want], dtype=np.int64)
            expected = bytecols.hash_matrix(bytecols.pack(raw, sizes), sizes)
            assert u.hashes().tolist() == expected.tolist()
            n = len(cells)
            for rows in (
                np.arange(n)[::-1].copy(),
                np.array(sorted(rnd.sample(range(n), n // 2)), dtype=np.int64),
                np.array([rnd.randrange(n) for _ in range(n)] if n else [], dtype=np.int64),
            ):
                part = u.take(rows)
                assert rows_of(part.matrix(8 + part.width), part.lens) == [want[i] for i in rows]
                assert part.char_lens().tolist() == [len(cells[i] or "") for i in rows]


def test_only_columns_of_texts_and_missing_cells_give_utf8() -> None:
    for column in (
        pd.Series([1, 2]),
        pd.Series(["a", 1], dtype=object),
        pd.Series([b"x"], dtype=object),  # bytes are no text (a nonce hashes them as bytes)
        pd.Series(["a", 2.5, None], dtype=object),
        pd.Series(pd.Categorical(["a"])),
    ):
        assert column_utf8(column) is None
    empty = column_utf8(pd.Series([None, np.nan], dtype=object))
    assert empty is not None and empty.present.tolist() == [False, False]


def bodies(df: pd.DataFrame, kind: str | None = "conversion", **kw) -> tuple[list[bytes], list]:
    plan = plan_visit_events(df, kind, site_code="s", **kw)
    out = [b.body for b in plan.batches(limit=3_000)]
    return out, plan.invalid.to_dict("records")


@pytest.mark.parametrize(
    "df",
    [
        # ids of one width, short numbers: the usual conversions
        pd.DataFrame(
            {
                "visitor_code": [f"{i:016x}" for i in range(500)],
                "goal_id": np.arange(500) % 60 + 1,
                "revenue": np.round(np.linspace(0, 500, 500), 2),
                "negative": np.arange(500) % 7 == 0,
            }
        ),
        # refused rows, missing and escaped values, a long number (NULs between its digits)
        pd.DataFrame(
            {
                "visitor_code": [None, "", "a b", "x" * 101] + [f"v{i}/é" for i in range(96)],
                "goal_id": [1, 2, 3, 4] + [10**15 + i for i in range(96)],
                "revenue": [np.inf, 1.0, 2.5, None] + [float(i) / 3 for i in range(96)],
            }
        ),
        # a mapping value where the visitor code is missing
        pd.DataFrame(
            {
                "visitor_code": [None if i % 3 else f"v{i}" for i in range(60)],
                "mapping_value": [f"m{i}" for i in range(60)],
                "goal_id": 5,
            }
        ),
    ],
)
def test_lines_end_to_end_are_the_line_matrix_without_its_nul(df, monkeypatch) -> None:
    got = bodies(df)
    monkeypatch.setattr(plans_module, "_flat_lines", lambda *a, **k: None)
    assert got == bodies(df)  # the line matrix, NULs deleted


def test_a_padding_wider_than_the_rest_of_its_line_falls_back_to_the_matrix(monkeypatch) -> None:
    # a title of 1 or 300 characters ends its segment: its padding outruns the nonce
    df = pd.DataFrame(
        {
            "visitor_code": "v",
            "href": "https://shop.example/p",
            "title": ["t" * (1 if i % 2 else 300) for i in range(40)],
        }
    )
    calls: list[bool] = []
    flat_lines = plans_module._flat_lines

    def spy(*args, **kwargs):
        out = flat_lines(*args, **kwargs)
        calls.append(out is None)
        return out

    monkeypatch.setattr(plans_module, "_flat_lines", spy)
    got = bodies(df, "page")
    assert calls and all(calls)  # every slice took the matrix
    monkeypatch.setattr(plans_module, "_flat_lines", lambda *a, **k: None)
    assert got == bodies(df, "page")
    lines = [x for b in got[0] for x in b.split(b"\n") if x]
    assert len(lines) == 40 and all(b"&nonce=" in x for x in lines)

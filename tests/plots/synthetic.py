"""Small frames that follow the declared schemas, for tests that need no server."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kameleoon_pandas.frames.schemas import PRODUCT_COUNTERS, VISITOR_FEED, conform

T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def counters(n_eans: int = 6, n_windows: int = 24, step: str = "1h") -> pd.DataFrame:
    """``n_eans`` products over ``n_windows`` windows; product i has 10 * (i + 1) views a window."""
    starts = pd.date_range(T0, periods=n_windows, freq=step)
    eans = [f"EAN-{i:03d}" for i in range(n_eans)]
    idx = pd.MultiIndex.from_product([eans, starts], names=["ean", "window_start"]).to_frame(
        index=False
    )
    rank = idx["ean"].str[-3:].astype(int)
    frame = pd.DataFrame(
        {
            "site_code": "synthsite",
            "ean": idx["ean"],
            "window_start": idx["window_start"],
            "window_end": idx["window_start"] + pd.Timedelta(step),
            "views": (rank + 1) * 10,
            "add_to_cart_quantity": rank + 1,
            "bought_quantity": (rank + 1) // 2,
        }
    )
    return conform(frame, PRODUCT_COUNTERS)


def feed() -> pd.DataFrame:
    """Three visitors, two visits each; every visit has a page view, visit 0 also a conversion."""
    rows = []
    for v, code in enumerate(["alice0000000001", "bob00000000002", "carol000000003"]):
        for visit in (0, 1):
            start = T0 + pd.Timedelta(days=3 - 2 * visit, hours=v)
            last = start + pd.Timedelta(minutes=20)
            base = {
                "site_code": "synthsite",
                "visitor_code": code,
                "visit": visit,
                "visit_started": start,
                "visit_last_event": last,
            }
            rows.append(base | {"kind": "static_data", "time": start, "device_type": "DESKTOP"})
            rows.append(
                base
                | {
                    "kind": "page",
                    "time": start + pd.Timedelta(minutes=1),
                    "href": "https://shop.example/",
                    "title": "Home",
                }
            )
            rows.append(
                base
                | {
                    "kind": "page",
                    "time": start + pd.Timedelta(minutes=5),
                    "href": "https://shop.example/cart",
                    "title": "Cart",
                }
            )
            if visit == 0:
                rows.append(
                    base
                    | {
                        "kind": "conversion",
                        "time": last,
                        "goal_id": 100 + v % 2,
                        "revenue": 10.0 * (v + 1),
                        "negative": False,
                    }
                )
    frame = pd.DataFrame(rows)
    frame["visit"] = frame["visit"].astype(np.int64)
    return conform(frame, VISITOR_FEED)

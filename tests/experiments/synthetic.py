"""Small, exact experiment data: exposures and conversions frames, and the same as a feed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kameleoon_pandas.frames.schemas import VISITOR_FEED, conform

T0 = pd.Timestamp("2026-11-01T00:00:00Z")
SITE = "synthsite"


def exposures(rows: Sequence[tuple[str, int, int, float]]) -> pd.DataFrame:
    """``(visitor_code, experiment_id, variation_id, minutes after T0)`` -> an exposures frame."""
    codes, experiments, variations, minutes = zip(*rows, strict=True) if rows else ([],) * 4
    return pd.DataFrame(
        {
            "site_code": pd.array([SITE] * len(codes), dtype="string"),
            "visitor_code": pd.array(list(codes), dtype="string"),
            "experiment_id": pd.array(list(experiments), dtype="Int64"),
            "variation_id": pd.array(list(variations), dtype="Int64"),
            "time": T0 + pd.to_timedelta(np.asarray(minutes, dtype=float), unit="min"),
        }
    )


def conversions(
    rows: Sequence[tuple[str, int, float, float] | tuple[str, int, float, float, bool]],
):
    """``(visitor_code, goal_id, revenue, minutes after T0[, negative])`` -> conversions."""
    full = [(*r, False) if len(r) == 4 else r for r in rows]
    codes, goals, revenue, minutes, negative = zip(*full, strict=True) if full else ([],) * 5
    return pd.DataFrame(
        {
            "site_code": pd.array([SITE] * len(codes), dtype="string"),
            "visitor_code": pd.array(list(codes), dtype="string"),
            "goal_id": pd.array(list(goals), dtype="Int64"),
            "revenue": np.asarray(revenue, dtype=float),
            "negative": pd.array(list(negative), dtype="boolean"),
            "time": T0 + pd.to_timedelta(np.asarray(minutes, dtype=float), unit="min"),
        }
    )


def as_feed(exp: pd.DataFrame, conv: pd.DataFrame, pages: bool = True) -> pd.DataFrame:
    """The same events as a ``VISITOR_FEED`` frame (plus a page view per visitor, as noise)."""
    parts = [exp.assign(kind="experiment"), conv.assign(kind="conversion")]
    if pages:
        visitors = exp[["site_code", "visitor_code"]].drop_duplicates()
        parts.append(visitors.assign(kind="page", time=T0, href="https://shop.example/"))
    feed = pd.concat(parts, ignore_index=True).sort_values(["visitor_code", "time"])
    feed = feed.assign(visit=0, visit_started=T0, visit_last_event=feed["time"])
    return conform(feed.reset_index(drop=True), VISITOR_FEED)


def simulate(
    rng: np.random.Generator,
    *,
    experiments: int,
    visitors: int,
    rates: Sequence[float],
    revenue_mean: Sequence[float] | None = None,
    goal_id: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``experiments`` independent experiments, ``visitors`` per variation (an exact split).

    Variation ``k`` converts with probability ``rates[k]``; a conversion's revenue is drawn
    from a gamma distribution (shape 2) with mean ``revenue_mean[k]`` (10 by default).
    """
    k = len(rates)
    means = np.asarray(revenue_mean if revenue_mean is not None else [10.0] * k)
    n = experiments * k * visitors
    experiment = np.repeat(np.arange(1, experiments + 1), k * visitors)
    variation = np.tile(np.repeat(np.arange(k), visitors), experiments)
    # "v00000000", "v00000001", ...: built by Arrow (the calibration runs ask for millions)
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 8, "0")
    codes = pd.array(pc.binary_join_element_wise("v", digits, ""), dtype="string")
    exp = pd.DataFrame(
        {
            "visitor_code": codes,
            "experiment_id": experiment,
            "variation_id": variation,
            "time": pd.Series(T0, index=range(n)),
        }
    )
    hit = rng.random(n) < np.asarray(rates)[variation]
    revenue = rng.gamma(2.0, means[variation] / 2.0)
    conv = pd.DataFrame(
        {
            "visitor_code": codes[hit],
            "goal_id": goal_id,
            "revenue": revenue[hit],
            "time": pd.Series(T0 + pd.Timedelta(hours=1), index=range(int(hit.sum()))),
        }
    )
    return exp, conv

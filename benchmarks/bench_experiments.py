"""The experiment read-out against a straightforward per-visitor groupby/apply, same feed, same run.

Run:  .venv/bin/python benchmarks/bench_experiments.py [--visitors 200000] [--events 10] [--seed 0]

A synthetic feed (numpy, seeded) in the full ``VISITOR_FEED`` schema: ``--visitors`` visitors with
``--events`` events each (2,000,000 rows by default), in one experiment with three variations.
Each visitor has one exposure (1 % a second one to another variation, so they are excluded; 3 %
a repeat of the same one), two conversions on goal 1 or 2 (some before the exposure, 2 %
negative) and page views. Then, one after the other:

- ``kp.experiment_results(feed, experiment_id=..., goal_id=[1, 2])``: the vectorised read-out,
  statistics included (best of ``--repeat`` runs);
- the baseline: ``feed[columns].groupby("visitor_code").apply(per_visitor)``, a function that
  reads one visitor's events (as numpy arrays) and returns their variation and, per goal,
  converted and revenue, then a groupby per arm. Counting only: the statistics on six rows are
  not timed there.

The arm counts (visitors, converted, revenue, excluded) of both are compared: the speed-up only
counts if they are identical. Peak memory is measured with ``tracemalloc`` in a separate run of
the read-out (tracing slows it down). Target: >= 10x.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

import kameleoon_pandas as kp  # noqa: F401  (registers df.kam, as a user's session would)
from kameleoon_pandas.experiments import experiment_results
from kameleoon_pandas.frames.schemas import VISITOR_FEED, conform

EXPERIMENT = 4242
GOALS = [1, 2]
TARGET = 10.0
T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def synthetic_feed(visitors: int, events: int, seed: int) -> pd.DataFrame:
    """``visitors * events`` rows of the full feed schema (see the module docstring)."""
    if events < 4:
        raise SystemExit("--events must be at least 4")
    rng = np.random.default_rng(seed)
    n = visitors * events
    visitor = np.repeat(np.arange(visitors), events)
    slot = np.tile(np.arange(events), visitors)
    start = T0.value // 1_000_000 + rng.integers(0, 14 * 86_400_000, visitors)  # ms
    offset = rng.integers(0, 1_800_000, n)  # within half an hour of the visit's start
    variation = rng.integers(0, 3, visitors)
    exposed_at = start + rng.integers(0, 600_000, visitors)

    kind = np.full(n, "page", dtype=object)
    times = start[visitor] + offset
    var_col = np.full(n, -1, dtype=np.int64)
    # slot 0: the exposure; slot 1: for 1 % another variation, for 3 % the same one again
    first = slot == 0
    kind[first] = "experiment"
    var_col[first] = variation
    times[first] = exposed_at
    second = (slot == 1) & np.repeat(rng.random(visitors) < 0.04, events)
    other = np.repeat(rng.random(visitors) < 0.25, events)  # 1 % of visitors: 0.04 * 0.25
    kind[second] = "experiment"
    var_col[second] = np.where(
        other[second], (variation[visitor[second]] + 1) % 3, variation[visitor[second]]
    )
    # slots 2 and 3: conversions (goal 1 or 2), a rate that depends on the variation
    conv = (slot == 2) | (slot == 3)
    rate = np.array([0.10, 0.12, 0.11])[variation[visitor]]
    converts = conv & (rng.random(n) < rate * 3)
    kind[converts] = "conversion"
    goal = np.where(converts, rng.integers(1, 3, n), -1)
    revenue = np.where(converts, np.round(rng.gamma(2.0, 25.0, n), 2), np.nan)
    negative = converts & (rng.random(n) < 0.02)

    page = kind == "page"
    codes = np.array([f"{i:016x}" for i in range(visitors)], dtype=object)
    frame = pd.DataFrame(
        {
            "site_code": "benchsite01",
            "visitor_code": pd.array(codes[visitor], dtype="string"),
            "visit": 0,
            "visit_started": pd.to_datetime(start[visitor], unit="ms", utc=True),
            "visit_last_event": pd.to_datetime(start[visitor] + 1_800_000, unit="ms", utc=True),
            "kind": pd.array(kind, dtype="string"),
            "time": pd.to_datetime(times, unit="ms", utc=True),
            "href": pd.array(np.where(page, "https://shop.example/p", None), dtype="string"),
            "goal_id": pd.array(np.where(goal >= 0, goal, None), dtype="Int64"),
            "revenue": revenue,
            "negative": pd.array(np.where(converts, negative, None), dtype="boolean"),
            "experiment_id": pd.array(np.where(var_col >= 0, EXPERIMENT, None), dtype="Int64"),
            "variation_id": pd.array(np.where(var_col >= 0, var_col, None), dtype="Int64"),
        }
    )
    return conform(frame, VISITOR_FEED)


#: The columns the read-out reads; the baseline groups only these (it would be slower with all).
COLUMNS = ["visitor_code", "kind", "time", "experiment_id", "variation_id", "goal_id"]
COLUMNS += ["revenue", "negative"]


def per_visitor(events: pd.DataFrame) -> pd.Series:
    """One visitor: variation (-1 when several), converted and revenue per goal (numpy inside)."""
    kind = events["kind"].to_numpy(dtype=object)
    exposed = (kind == "experiment") & (events["experiment_id"].to_numpy(na_value=-1) == EXPERIMENT)
    out: dict[str, object] = {"variation": None}
    if not exposed.any():
        return pd.Series(out)
    variations = np.unique(events["variation_id"].to_numpy(na_value=-1)[exposed])
    out["variation"] = int(variations[0]) if len(variations) == 1 else -1
    times = events["time"].to_numpy()
    later = (kind == "conversion") & (times >= times[exposed].min())
    goals = events["goal_id"].to_numpy(na_value=-1)
    sign = np.where(events["negative"].to_numpy(na_value=False, dtype=bool), -1, 1)
    money = events["revenue"].fillna(0.0).to_numpy() * sign
    for goal in GOALS:
        mine = later & (goals == goal)
        net = int(sign[mine].sum())
        out[f"converted_{goal}"] = int(net >= 1)
        out[f"revenue_{goal}"] = float(money[mine].sum()) if net >= 1 else 0.0
    return pd.Series(out)


def baseline(feed: pd.DataFrame) -> pd.DataFrame:
    """The straightforward way: apply per visitor, then sum per variation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' DeprecationWarning about grouping columns
        rows = feed[COLUMNS].groupby("visitor_code", sort=False).apply(per_visitor)
    rows = rows[rows["variation"].notna()]
    excluded = int((rows["variation"] == -1).sum())
    kept = rows[rows["variation"] != -1]
    parts = []
    for goal in GOALS:
        arm = kept.groupby("variation").agg(
            visitors=("variation", "size"),
            converted=(f"converted_{goal}", "sum"),
            revenue=(f"revenue_{goal}", "sum"),
        )
        parts.append(arm.assign(goal_id=goal, excluded_visitors=excluded))
    out = pd.concat(parts).reset_index(names="variation_id")
    return out.sort_values(["goal_id", "variation_id"]).reset_index(drop=True)


def fast(feed: pd.DataFrame) -> pd.DataFrame:
    return experiment_results(feed, experiment_id=EXPERIMENT, goal_id=GOALS)


def counts(results: pd.DataFrame) -> pd.DataFrame:
    cols = ["variation_id", "goal_id", "visitors", "converted", "revenue", "excluded_visitors"]
    out = results[cols].astype({c: "int64" for c in cols if c != "revenue"})
    return out.sort_values(["goal_id", "variation_id"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t = time.perf_counter()
    feed = synthetic_feed(args.visitors, args.events, args.seed)
    print(
        f"feed: {len(feed):,} rows x {feed.shape[1]} columns, {feed['visitor_code'].nunique():,} "
        f"visitors, {feed.memory_usage(deep=True).sum() / 2**20:,.0f} MiB "
        f"(built in {time.perf_counter() - t:.1f} s)"
    )

    fast_times = []
    for _ in range(max(args.repeat, 1)):
        t = time.perf_counter()
        results = fast(feed)
        fast_times.append(time.perf_counter() - t)
    fast_s = min(fast_times)
    print(f"experiment_results: {fast_s:.2f} s (best of {len(fast_times)})")

    tracemalloc.start()
    fast(feed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"experiment_results peak memory (tracemalloc): {peak / 2**20:,.0f} MiB")

    t = time.perf_counter()
    slow = baseline(feed)
    slow_s = time.perf_counter() - t
    print(f"baseline groupby/apply per visitor (counting only): {slow_s:.2f} s")

    pd.testing.assert_frame_equal(
        counts(results), counts(slow), check_dtype=False, check_exact=False, rtol=1e-9
    )
    print("arm counts identical:", "yes")
    print(
        results[["variation_id", "goal_id", "visitors", "converted", "uplift", "p_value"]]
        .round(4)
        .to_string(index=False)
    )
    ratio = slow_s / fast_s
    verdict = "OK" if ratio >= TARGET else f"BELOW the {TARGET:.0f}x target"
    print(f"speed-up: {ratio:.1f}x ({verdict})")


if __name__ == "__main__":
    main()

"""The read-out finds the truth the demo data was seeded with (``DEMO_EXPERIMENTS``).

Over ``SEEDS`` seed numbers and both demo sites (``2 * SEEDS`` independent data sets), the 95%
interval of experiment 601 covers its true +15% uplift about 95% of the time, the no-effect
experiment 602 rejects about 5% of the time, and 602's deliberate 55/45 split always warns.
The visits come from the seed's own generator (``_site_statements``, what ``seed_state``
writes, checked against the state once), without the SQLite round trip.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import KameleoonWarning
from kameleoon_pandas.emulator import (
    DEMO_EXPERIMENTS,
    DEMO_GOAL_ID,
    DEMO_SITE_CODES,
    EmulatorState,
    seed_state,
)
from kameleoon_pandas.emulator import seed as demo_seed

# One worker: the 40 data sets are made once.
pytestmark = pytest.mark.xdist_group("demo_truth")

SEEDS = 20  # 40 data sets per experiment: about 10 s
ANCHOR = 1_780_000_000_000 - 1_780_000_000_000 % demo_seed.HOUR_MS
EFFECT, NULL = DEMO_EXPERIMENTS
IDS = {e.experiment_id for e in DEMO_EXPERIMENTS}


def _visit_rows(random_seed: int, number: int) -> list[tuple]:
    rng = np.random.default_rng([random_seed, number])
    statements = demo_seed._site_statements(rng, DEMO_SITE_CODES[number], number, ANCHOR)
    return next(rows for sql, rows in statements if "INTO visit_events" in sql)


def _frames(rows: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(exposures to the demo experiments, conversions on their goal) of a site's visit rows."""
    picked: dict[str, list[tuple]] = {"experiment": [], "conversion": []}
    for _s, code, _n, time, _q, kind, data in rows:
        if kind in picked:
            picked[kind].append((code, time, data))
    frames = {}
    for kind, fields in (
        ("experiment", {"experiment_id": "id", "variation_id": "variationId"}),
        ("conversion", {"goal_id": "goalId", "revenue": "revenue"}),
    ):
        codes, times, datas = zip(*picked[kind], strict=True)
        # One JSON array for all of a kind's events: one parser call, not one per event; then
        # only the fields read here, a column at a time (a frame of every field took 3x longer).
        events = json.loads("[" + ",".join(datas) + "]")
        columns: dict[str, object] = {"visitor_code": list(codes)}
        for column, key in fields.items():
            values = [event.get(key) for event in events]
            columns[column] = pd.Series(values, dtype=float if column == "revenue" else None)
        columns["time"] = pd.to_datetime(pd.Series(times), unit="ms")
        frames[kind] = pd.DataFrame(columns)
    exp = frames["experiment"]
    exp = exp[exp["experiment_id"].isin(IDS)]
    conv = frames["conversion"]
    conv = conv[conv["goal_id"] == DEMO_GOAL_ID]
    return (
        exp[["visitor_code", "experiment_id", "variation_id", "time"]].reset_index(drop=True),
        conv[["visitor_code", "goal_id", "revenue", "time"]].reset_index(drop=True),
    )


def _data_sets() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    for random_seed in range(SEEDS):
        for number in range(len(DEMO_SITE_CODES)):
            yield _frames(_visit_rows(random_seed, number))


def _variation_row(results: pd.DataFrame, experiment) -> pd.Series:
    rows = results[results["variation_id"] == experiment.variation_ids[1]]
    assert len(rows) == 1
    return rows.iloc[0]


# Session scope: xdist may interleave other modules' tests on this worker, and a module
# fixture would be made again after each of them.
@pytest.fixture(scope="session")
def read_outs() -> dict[str, list[pd.Series]]:
    """Per metric and experiment, variation 2's row of each data set's read-out.

    The data sets are read out together, each under a site code of its own: one read-out
    per metric gives the rows of 80 separate ones (``test_many.py`` checks that reading
    experiments together gives each one's rows), and each data set's SRM warning is counted.
    """
    exposures, conversions = [], []
    for number, (exp, conv) in enumerate(_data_sets()):
        exposures.append(exp.assign(site_code=f"set{number:02d}"))
        conversions.append(conv.assign(site_code=f"set{number:02d}"))
    exposures_all = pd.concat(exposures, ignore_index=True)
    conversions_all = pd.concat(conversions, ignore_index=True)
    out: dict[str, list[pd.Series]] = {}
    for metric in ("conversion_rate", "revenue_per_visitor"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", KameleoonWarning)
            results = kp.experiment_results(
                exposures=exposures_all,
                conversions=conversions_all,
                goal_id=DEMO_GOAL_ID,
                metric=metric,
            )
        srm = [str(w.message) for w in caught if "sample ratio" in str(w.message)]
        # Every data set's 602 warned, and no 601 did.
        assert len(srm) == 2 * SEEDS, srm
        assert all(m.startswith(f"experiment {NULL.experiment_id}:") for m in srm), srm
        for name, experiment in (("effect", EFFECT), ("null", NULL)):
            mine = results[results["experiment_id"] == experiment.experiment_id]
            out[f"{name}/{metric}"] = [
                _variation_row(rows, experiment) for _, rows in mine.groupby("site_code")
            ]
    return out


def test_the_truth_is_what_the_constant_says() -> None:
    assert EFFECT.uplifts == (0.0, 0.15) and EFFECT.split == EFFECT.intended_split
    assert NULL.uplifts == (0.0, 0.0) and NULL.has_srm and not EFFECT.has_srm
    assert {e.goal_id for e in DEMO_EXPERIMENTS} == {DEMO_GOAL_ID}


def test_the_shortcut_reads_what_seed_state_writes() -> None:
    state = EmulatorState(":memory:")
    try:
        seed_state(state, "demo", random_seed=3, now_ms=ANCHOR + 1)
        for number, site in enumerate(DEMO_SITE_CODES):
            stored = state._conn.execute(
                "SELECT visitor_code, time, kind, data FROM visit_events WHERE site_code = ?"
                " ORDER BY visitor_code, time, kind, data",
                (site,),
            ).fetchall()
            made = sorted((r[1], r[3], r[5], r[6]) for r in _visit_rows(3, number))
            assert stored == made
    finally:
        state.close()


@pytest.mark.parametrize("metric", ["conversion_rate", "revenue_per_visitor"])
def test_the_95_percent_interval_covers_the_true_uplift_about_95_percent_of_the_time(
    read_outs, metric
) -> None:
    rows = read_outs[f"effect/{metric}"]
    truth = EFFECT.uplifts[1]
    covered = sum(bool(r["ci_low"] <= truth <= r["ci_high"]) for r in rows)
    assert len(rows) == 2 * SEEDS
    # Binomial(40, 0.95): 38 expected; 34 or fewer has a chance of about 3%.
    assert covered >= 35, f"{covered} of {len(rows)} intervals cover {truth}"
    # The effect is there to be found: the mean estimate lies near the truth.
    assert abs(np.mean([r["uplift"] for r in rows]) - truth) < 0.03


@pytest.mark.parametrize("metric", ["conversion_rate", "revenue_per_visitor"])
def test_the_no_effect_experiment_rejects_about_5_percent_of_the_time(read_outs, metric) -> None:
    rows = read_outs[f"null/{metric}"]
    rejected = sum(bool(r["p_value"] < 0.05) for r in rows)
    # Binomial(40, 0.05): 2 expected; 6 or more has a chance of about 1.4%.
    assert rejected <= 5, f"{rejected} of {len(rows)} rejections"
    assert all(r["ci_low"] <= 0 <= r["ci_high"] for r in rows if r["p_value"] >= 0.05)


def test_the_mismatched_split_warns_and_the_equal_one_does_not(read_outs) -> None:
    # Every data set of 602 warned (counted in the fixture); 601's never did.
    assert all(r["srm_p_value"] < 1e-6 for r in read_outs["null/conversion_rate"])
    assert all(r["srm_p_value"] > 0.001 for r in read_outs["effect/conversion_rate"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", KameleoonWarning)
        exposures, conversions = _frames(_visit_rows(0, 0))
        kp.experiment_results(exposures=exposures, conversions=conversions, experiment_id=601)

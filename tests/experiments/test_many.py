"""Many experiments in one read-out give, row for row, what each gives read out alone."""

from __future__ import annotations

import pandas as pd
import pytest

import kameleoon_pandas.experiments as ke

from . import synthetic as syn

#: experiment -> variation -> (visitors, converted): odd cases side by side (a variation
#: nobody converted in, a reference where everyone converted, a reference that is not the
#: lowest id, a lopsided split).
ARMS = {
    7: {0: (300, 30), 1: (350, 0), 2: (320, 40)},
    8: {0: (80, 80), 1: (90, 81)},
    9: {1: (200, 10), 3: (210, 18)},
    10: {0: (500, 20), 1: (300, 25)},
}


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    exp_rows, conv_rows = [], []
    for experiment, arms in ARMS.items():
        for variation, (n, c) in arms.items():
            codes = [f"m{experiment}v{variation}n{i}" for i in range(n)]
            exp_rows += [(code, experiment, variation, 0.0) for code in codes]
            conv_rows += [(code, 1, 5.0 + i % 4, 1.0) for i, code in enumerate(codes[:c])]
            conv_rows += [(code, 2, 1.0, 2.0) for code in codes[: c // 2]]
    return syn.exposures(exp_rows), syn.conversions(conv_rows)


@pytest.mark.filterwarnings("ignore::kameleoon_pandas.KameleoonWarning")
@pytest.mark.parametrize("metric", ["conversion_rate", "revenue_per_visitor"])
@pytest.mark.parametrize("correction", [None, "holm"])
def test_a_joint_read_out_is_the_read_outs_of_each_experiment(metric, correction) -> None:
    exp, conv = _frames()
    options = {"metric": metric, "correction": correction, "goal_id": [1, 2]}
    reference = {7: 2, 8: 0, 9: 3, 10: 0}
    joint = ke.experiment_results(exposures=exp, conversions=conv, reference=reference, **options)
    alone = pd.concat(
        [
            ke.experiment_results(
                exposures=exp, conversions=conv, experiment_id=e, reference=r, **options
            )
            for e, r in reference.items()
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(joint, alone, check_exact=False, rtol=1e-12)
    compared = joint[joint["variation_id"] != joint["experiment_id"].map(reference)]
    assert compared["chance_to_beat_reference"].notna().all()
    assert joint.loc[~joint.index.isin(compared.index), "uplift"].isna().all()

"""plot_experiment: uplift per variation with its interval, one panel per (experiment, goal)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.ticker import PercentFormatter

from kameleoon_pandas import plots
from kameleoon_pandas._exceptions import ValidationError
from kameleoon_pandas.frames.experiments import EXPERIMENT_RESULTS
from kameleoon_pandas.frames.schemas import conform, empty_frame


def results(goals=(17,), variations=(0, 1, 2)) -> pd.DataFrame:
    """A hand-made results frame: variation 0 is the reference; 1 wins, 2 is inconclusive."""
    rows = []
    for goal in goals:
        for v in variations:
            ref = v == variations[0]
            rows.append(
                {
                    "site_code": "synthsite",
                    "experiment_id": 4242,
                    "variation_id": v,
                    "goal_id": goal,
                    "visitors": 1000,
                    "converted": 100 + 10 * v,
                    "uplift": None if ref else [0.25, -0.05][(v - 1) % 2],
                    "ci_low": None if ref else [0.05, -0.2][(v - 1) % 2],
                    "ci_high": None if ref else [0.5, 0.1][(v - 1) % 2],
                    "p_value": None if ref else [0.01, 0.6][(v - 1) % 2],
                    "chance_to_beat_reference": None if ref else 0.9,
                }
            )
    frame = conform(pd.DataFrame(rows), EXPERIMENT_RESULTS)
    frame.attrs.update({"metric": "conversion_rate", "alpha": 0.05})
    return frame


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_one_goal_gives_one_readable_axes() -> None:
    ax = plots.plot_experiment(results())
    assert isinstance(ax, plt.Axes)
    assert ax.get_title() == "Experiment 4242, goal 17: uplift vs variation 0 (reference)"
    assert "conversion rate" in ax.get_xlabel() and "95% interval" in ax.get_xlabel()
    assert "(%)" in ax.get_xlabel()
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    ticks = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert set(ticks) == {"variation 1", "variation 2"}
    assert ticks["variation 1"] > ticks["variation 2"]  # the lowest id at the top
    zero = [line for line in ax.get_lines() if list(line.get_xdata()) == [0, 0]]
    assert len(zero) == 1  # the zero line
    assert "+25.0%  [+5.0%, +50.0%]  p = 0.01" in _texts(ax)
    assert "-5.0%  [-20.0%, +10.0%]  p = 0.6" in _texts(ax)
    low, high = ax.get_xlim()
    assert low < -0.2 and high > 0.5  # the intervals fit


def test_several_goals_give_an_array_of_axes() -> None:
    axes = plots.plot_experiment(results(goals=(17, 18, 19)))
    assert isinstance(axes, np.ndarray) and axes.shape == (3,)
    assert [a.get_title().split(":")[0] for a in axes] == [
        "Experiment 4242, goal 17",
        "Experiment 4242, goal 18",
        "Experiment 4242, goal 19",
    ]
    assert len({id(a.figure) for a in axes}) == 1  # stacked in one figure


def test_given_axes_are_drawn_into() -> None:
    _, grid = plt.subplots(2)
    axes = plots.plot_experiment(results(goals=(1, 2)), ax=grid)
    assert list(axes) == list(grid)
    _, one = plt.subplots()
    assert plots.plot_experiment(results(), ax=one) is one
    with pytest.raises(ValidationError, match=r"one Axes per \(experiment, goal\): 2 needed"):
        plots.plot_experiment(results(goals=(1, 2)), ax=one)


def test_missing_numbers_read_n_a_and_the_metric_label_follows_attrs() -> None:
    frame = results()
    frame.loc[1, ["uplift", "ci_low", "ci_high", "p_value"]] = np.nan
    frame.attrs.update({"metric": "revenue_per_visitor", "alpha": 0.1})
    ax = plots.plot_experiment(frame)
    assert "n/a  [n/a, n/a]  p n/a" in _texts(ax)
    assert "revenue per visitor" in ax.get_xlabel() and "90% interval" in ax.get_xlabel()


def test_empty_results_and_bad_frames() -> None:
    ax = plots.plot_experiment(empty_frame(EXPERIMENT_RESULTS))
    assert "No data" in _texts(ax)
    with pytest.raises(ValidationError, match=r"missing column\(s\) \['uplift'"):
        plots.plot_experiment(results().drop(columns="uplift"))
    with pytest.raises(ValidationError, match="must be a pandas DataFrame"):
        plots.plot_experiment([1])  # type: ignore[arg-type]


def test_on_a_real_read_out() -> None:
    import kameleoon_pandas.experiments as ke

    rng = np.random.default_rng(0)
    n = 4000
    exposures = pd.DataFrame(
        {
            "visitor_code": [f"v{i}" for i in range(n)],
            "experiment_id": 1,
            "variation_id": np.arange(n) % 2,
            "time": pd.Timestamp("2026-11-01", tz="UTC"),
        }
    )
    hit = rng.random(n) < 0.1 + 0.03 * (np.arange(n) % 2)
    conversions = exposures.loc[hit, ["visitor_code", "time"]].assign(goal_id=5, revenue=1.0)
    read = ke.experiment_results(exposures=exposures, conversions=conversions)
    ax = plots.plot_experiment(read)
    assert ax.get_title() == "Experiment 1, goal 5: uplift vs variation 0 (reference)"
    assert len(ax.texts) == 1

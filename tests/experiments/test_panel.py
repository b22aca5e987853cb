"""ExperimentPanel: the pure view on a results frame, then the panel against the emulator."""

from __future__ import annotations

import base64

import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest

import kameleoon_pandas.experiments as ke
from kameleoon_pandas import ValidationError
from kameleoon_pandas.panels.experiment import (
    ExperimentPanel,
    ExperimentSnapshot,
    experiment_table,
    experiment_view,
    parse_ids,
)

from . import synthetic as syn
from .conftest import EXPERIMENT, VISITORS


@pytest.fixture(scope="module")
def read_out() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    exp, conv = syn.simulate(rng, experiments=1, visitors=2000, rates=[0.1, 0.12])
    conv = pd.concat([conv, conv.iloc[::3].assign(goal_id=2)], ignore_index=True)
    return ke.experiment_results(exposures=exp, conversions=conv)


def test_parse_ids() -> None:
    assert parse_ids(" 17, 18 17\n19 ", "Goals") == [17, 18, 19]
    assert parse_ids("", "Goals") == []
    with pytest.raises(ValidationError, match="Goals: 'x1' is not an integer id"):
        parse_ids("17, x1", "Goals")


def test_the_table_reads_in_percent(read_out) -> None:
    table = experiment_table(read_out)
    assert list(table.columns) == [
        "goal_id",
        "variation_id",
        "visitors",
        "converted",
        "conversion_rate",
        "revenue_per_visitor",
        "uplift",
        "interval",
        "p_value",
        "chance_to_beat_reference",
        "expected_loss",
    ]
    assert table["variation_id"].tolist() == ["0 (reference)", "1"] * 2
    row = read_out.iloc[1]
    assert table.loc[1, "uplift"] == f"{row['uplift']:+.2%}"
    assert table.loc[1, "interval"] == f"[{row['ci_low']:+.2%}, {row['ci_high']:+.2%}]"
    assert table.loc[1, "p_value"] == f"{row['p_value']:.4f}"
    assert table.loc[0, "uplift"] == table.loc[0, "interval"] == table.loc[0, "p_value"] == ""


def test_the_view_has_a_plot_per_goal_a_table_and_a_status(read_out) -> None:
    s = ExperimentSnapshot(visitor_codes=["a"], experiment_id=1, goal_ids=None)
    view = experiment_view(read_out, s, "synthsite")
    assert view.figure is not None and len(view.figure.axes) == 2
    assert [a.get_title().split(":")[0] for a in view.figure.axes] == [
        "Experiment 1, goal 1",
        "Experiment 1, goal 2",
    ]
    assert view.table is not None and len(view.table) == 4
    assert view.status.startswith("synthsite: experiment 1, 4,000 visitors in 2 variations")
    assert "2 goals, by conversion rate; SRM p-value 1." in view.status
    assert "mismatch" not in view.status
    assert "95%" in view.figure_alt and "95%" in view.table_caption


def test_the_view_flags_a_sample_ratio_mismatch(read_out) -> None:
    skewed = read_out.assign(srm_p_value=1e-5)
    s = ExperimentSnapshot(visitor_codes=["a"], experiment_id=1, goal_ids=[1], alpha=0.1)
    view = experiment_view(skewed, s, "synthsite")
    assert "SRM p-value 1e-05. Sample ratio mismatch" in view.status
    assert "90%" in view.table_caption


def _kinds(outputs) -> list[str]:
    return [next(k for k in o["data"] if k != "text/plain") for o in outputs]


def test_the_panel_loads_the_plot_and_the_table(experiment_client) -> None:
    panel = ExperimentPanel(VISITORS, client=experiment_client, experiment_id=EXPERIMENT)
    assert isinstance(panel, widgets.VBox)
    assert panel.experiment.value == str(EXPERIMENT) and panel.goal.value == ""
    panel.goal.value = "1, 2"
    panel.correction.value = "holm"
    panel.load_button.click()
    frame = panel.wait()
    assert "Error" not in panel.status.value, panel.status.value
    assert _kinds(panel.output.outputs) == ["image/png", "text/html"]
    assert base64.b64decode(panel.output.outputs[0]["data"]["image/png"]).startswith(b"\x89PNG")
    assert frame is panel.frame and frame is not None
    expected = ke.read_experiment(
        VISITORS, EXPERIMENT, goal_id=[1, 2], correction="holm", client=experiment_client
    )
    pd.testing.assert_frame_equal(frame, expected)
    assert "65 visitors in 2 variations (3 excluded" in panel.status.value
    html = panel.output.outputs[1]["data"]["text/html"]
    assert html.count("<tr") == 1 + 4 and "0 (reference)" in html


def test_the_panel_shows_errors_in_its_status_line(experiment_client) -> None:
    panel = ExperimentPanel(VISITORS, client=experiment_client, experiment_id=99)
    panel.load_button.click()
    assert panel.wait() is None
    assert "ValidationError" in panel.status.value and "[99]" in panel.status.value
    panel = ExperimentPanel([], client=experiment_client, experiment_id=EXPERIMENT)
    panel.load_button.click()
    assert panel.wait() is None and "Visitors: enter at least one" in panel.status.value
    panel = ExperimentPanel(VISITORS, client=experiment_client)
    panel.load_button.click()
    assert panel.wait() is None and "Experiment: enter one experiment id" in panel.status.value

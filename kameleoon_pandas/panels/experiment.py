"""ExperimentPanel: an experiment's read-out for a list of visitors, as a plot and a table.

The pure half (:class:`ExperimentSnapshot`, :func:`experiment_table`, :func:`experiment_view`)
takes a results frame and the control values and returns a :class:`~.views.View`, so it is
tested without widgets or a server; :class:`ExperimentPanel` owns the controls and the worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .. import plots
from .._exceptions import ValidationError
from ..experiments import SRM_THRESHOLD
from ._base import _WIDE, Report, _Panel, _Result
from .views import View, new_figure

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "ExperimentPanel",
    "ExperimentSnapshot",
    "experiment_table",
    "experiment_view",
    "parse_ids",
]

_METRIC_OPTIONS = [
    ("Conversion rate", "conversion_rate"),
    ("Revenue per visitor", "revenue_per_visitor"),
]
_LEVEL_OPTIONS = [("90 %", 0.10), ("95 %", 0.05), ("99 %", 0.01)]
_CORRECTION_OPTIONS: list[tuple[str, str | None]] = [
    ("None", None),
    ("Holm", "holm"),
    ("Bonferroni", "bonferroni"),
    ("Benjamini-Hochberg (FDR)", "fdr_bh"),
]


@dataclass(frozen=True)
class ExperimentSnapshot:
    """The ExperimentPanel's control values for one load (read on the kernel thread)."""

    #: The visitors whose feeds are read, de-duplicated, in the order typed.
    visitor_codes: list[str]
    #: The experiment to read out.
    experiment_id: int
    #: The goals, or None for every goal the visitors converted on.
    goal_ids: list[int] | None
    #: The reference variation, or None for the lowest exposed variation id.
    reference: int | None = None
    #: ``"conversion_rate"`` or ``"revenue_per_visitor"``.
    metric: str = "conversion_rate"
    #: One minus the intervals' confidence level.
    alpha: float = 0.05
    #: A ``multipletests`` method for the p-values, or None.
    correction: str | None = None


def parse_ids(text: str, what: str) -> list[int]:
    """Integer ids from ``text`` (separated by commas, spaces or new lines), de-duplicated.

    Raises a ValidationError naming ``what`` (the control) and the first bad entry.
    """
    ids = []
    for part in text.replace(",", " ").split():
        try:
            ids.append(int(part))
        except ValueError:
            raise ValidationError(f"{what}: {part!r} is not an integer id") from None
    return list(dict.fromkeys(ids))


def _pct(value: Any, signed: bool = True) -> str:
    if pd.isna(value):
        return ""
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def experiment_table(results: pd.DataFrame) -> pd.DataFrame:
    """The results as a table to read: rates, uplifts and chances in percent, as text.

    Columns: ``goal_id, variation_id, visitors, converted, conversion_rate,
    revenue_per_visitor, uplift, interval, p_value, chance_to_beat_reference,
    expected_loss``; the reference's ``variation_id`` reads "0 (reference)". Percentages have
    two decimals, ``revenue_per_visitor`` and ``expected_loss`` four significant places,
    ``p_value`` four decimals; missing values are empty.
    """
    is_ref = results["chance_to_beat_reference"].isna().to_numpy()
    variation = results["variation_id"].astype("string")
    loss = results["expected_loss"].astype("float64")
    return pd.DataFrame(
        {
            "goal_id": results["goal_id"].to_numpy(),
            "variation_id": np.where(is_ref, variation + " (reference)", variation),
            "visitors": results["visitors"].to_numpy(),
            "converted": results["converted"].to_numpy(),
            "conversion_rate": [_pct(v, signed=False) for v in results["conversion_rate"]],
            "revenue_per_visitor": [f"{v:.4g}" for v in results["revenue_per_visitor"]],
            "uplift": [_pct(v) for v in results["uplift"]],
            "interval": [
                "" if pd.isna(lo) or pd.isna(hi) else f"[{_pct(lo)}, {_pct(hi)}]"
                for lo, hi in zip(results["ci_low"], results["ci_high"], strict=True)
            ],
            "p_value": [
                "" if pd.isna(p) else f"{p:.4f}" for p in results["p_value"].astype("float64")
            ],
            "chance_to_beat_reference": [
                _pct(v, signed=False) for v in results["chance_to_beat_reference"]
            ],
            "expected_loss": ["" if pd.isna(v) else f"{v:.4g}" for v in loss],
        }
    )


def experiment_view(
    results: pd.DataFrame,
    s: ExperimentSnapshot,
    site_code: str,
) -> View:
    """The ExperimentPanel's view of a results frame: the uplift plot and the table.

    The figure has one Axes per goal (:func:`~kameleoon_pandas.plots.plot_experiment`); the
    table is :func:`experiment_table`; the status names the experiment, counts visitors,
    variations, excluded visitors and goals, gives the SRM p-value and, when it is below
    0.001, says that the split is off (what the read-out would warn about).
    """
    per_variation = results.drop_duplicates("variation_id")
    visitors = int(per_variation["visitors"].sum())
    goals = results["goal_id"].nunique()
    excluded = int(results["excluded_visitors"].iloc[0]) if len(results) else 0
    srm = float(results["srm_p_value"].iloc[0]) if len(results) else float("nan")
    metric = {v: k for k, v in _METRIC_OPTIONS}.get(s.metric, s.metric).lower()
    status = (
        f"{site_code}: experiment {s.experiment_id}, {visitors:,} visitors in "
        f"{len(per_variation)} variations ({excluded:,} excluded for seeing several), "
        f"{goals} goal{'s' if goals != 1 else ''}, by {metric}; SRM p-value {srm:.3g}."
    )
    if srm < SRM_THRESHOLD:
        status += " Sample ratio mismatch: the split is off, read the results with care."
    n_panels = len(results[["experiment_id", "goal_id"]].drop_duplicates()) or 1
    fig = new_figure(11.0, 0.8 + 2.2 * n_panels)
    axes = fig.subplots(n_panels, 1, squeeze=False)[:, 0]
    plots.plot_experiment(results, ax=list(axes) if n_panels > 1 else axes[0])
    level = f"{1 - s.alpha:.0%}"
    return View(
        status=status,
        figure=fig,
        figure_alt=f"Uplift per variation of experiment {s.experiment_id} with {level} intervals",
        table=experiment_table(results),
        table_caption=f"Experiment {s.experiment_id}: {len(results)} rows, {level} intervals",
    )


class ExperimentPanel(_Panel[ExperimentSnapshot]):
    """An experiment's read-out for a list of visitors: the uplift plot and the results table.

    An ipywidgets ``VBox``. Load reads the visitors' ``experiment`` and ``conversion`` events
    (on a background thread), reads the experiment out with
    :func:`~kameleoon_pandas.experiment_results` and shows the uplift of each variation with
    its interval (one panel per goal) and the table; the status line shows progress, the
    sample-ratio check and errors (an experiment nobody was exposed to, an unknown reference).

    Parameters
    ----------
    visitor_codes : iterable of str, optional
        The visitors to read, filled into the ``visitor_codes`` box.
    client : Client, optional
        The client to load through; ``None`` (the default) uses the default client built from
        the ``KAMELEOON_*`` environment variables, on the first Load.
    site_codes : iterable of str, optional
        The site codes to choose from; default the client's ``site_codes``, else
        ``KAMELEOON_SITE_CODES`` (comma-separated), else ``KAMELEOON_SITE_CODE``.
    experiment_id : int, optional
        Filled into the ``experiment`` box.
    goal_id : int or iterable of int, optional
        Filled into the ``goal`` box (empty: every goal).

    Attributes
    ----------
    site_code : ipywidgets.Dropdown
        The site code to load.
    experiment : ipywidgets.Text
        The experiment id.
    goal : ipywidgets.Text
        The goal ids, separated by commas or spaces; empty for every goal converted on.
    reference : ipywidgets.Text
        The reference variation id; empty for the lowest exposed one.
    metric : ipywidgets.ToggleButtons
        ``"conversion_rate"`` (the default) or ``"revenue_per_visitor"``.
    level : ipywidgets.Dropdown
        The intervals' confidence level: ``alpha`` 0.10, 0.05 (the default) or 0.01.
    correction : ipywidgets.Dropdown
        The p-value adjustment over the goals and variations: None (the default),
        ``"holm"``, ``"bonferroni"`` or ``"fdr_bh"``.
    visitor_codes : ipywidgets.Textarea
        The visitor codes, separated by commas, spaces or new lines.
    load_button : ipywidgets.Button
        Starts a load (so does :meth:`load`).
    status : ipywidgets.HTML
        The status line: progress, a summary, or the error.
    output : ipywidgets.Output
        The plot (``image/png``) and the table (``text/html``) of the last load.
    frame : DataFrame or None
        The results of the last successful load (``experiment_results``' schema).

    Examples
    --------
    In a notebook, the panel is the cell's result:

    >>> import kameleoon_pandas as kp
    >>> panel = kp.panels.ExperimentPanel(codes, experiment_id=4242, goal_id=17)
    >>> panel

    In a script or a test, set the controls, load and wait:

    >>> panel.metric.value = "revenue_per_visitor"
    >>> panel.load_button.click()
    >>> results = panel.wait()  # the results, or None if the status line shows an error
    """

    def __init__(
        self,
        visitor_codes: Iterable[str] | None = None,
        client: Client | None = None,
        site_codes: Iterable[str] | None = None,
        *,
        experiment_id: int | None = None,
        goal_id: int | Iterable[int] | None = None,
    ) -> None:
        goals = [goal_id] if isinstance(goal_id, int) else list(goal_id or [])
        self.experiment = widgets.Text(
            value="" if experiment_id is None else str(experiment_id),
            description="Experiment",
            placeholder="experiment id",
        )
        self.goal = widgets.Text(
            value=", ".join(str(g) for g in goals),
            description="Goals",
            placeholder="goal ids; empty: all",
        )
        self.reference = widgets.Text(
            value="", description="Reference", placeholder="variation id; empty: lowest"
        )
        self.metric = widgets.ToggleButtons(
            options=_METRIC_OPTIONS, value="conversion_rate", description="Metric"
        )
        self.level = widgets.Dropdown(options=_LEVEL_OPTIONS, value=0.05, description="Level")
        self.correction = widgets.Dropdown(
            options=_CORRECTION_OPTIONS, value=None, description="Correction", style=_WIDE
        )
        self.visitor_codes = widgets.Textarea(
            value=", ".join(visitor_codes or []),
            description="Visitors",
            placeholder="visitor codes, separated by commas, spaces or new lines",
            layout=widgets.Layout(width="98%", height="60px"),
        )
        super().__init__(client, site_codes)

    def _control_rows(self) -> list[widgets.Widget]:
        return [
            widgets.HBox([self.site_code, self.experiment, self.goal]),
            widgets.HBox([self.reference, self.level, self.correction]),
            self.metric,
            self.visitor_codes,
        ]

    def _snapshot(self) -> ExperimentSnapshot:
        codes = [c for c in self.visitor_codes.value.replace(",", " ").split() if c]
        if not codes:
            raise ValidationError("Visitors: enter at least one visitor code")
        experiment = parse_ids(self.experiment.value, "Experiment")
        if len(experiment) != 1:
            raise ValidationError("Experiment: enter one experiment id")
        goals = parse_ids(self.goal.value, "Goals")
        reference = parse_ids(self.reference.value, "Reference")
        if len(reference) > 1:
            raise ValidationError("Reference: enter one variation id, or leave it empty")
        return ExperimentSnapshot(
            visitor_codes=list(dict.fromkeys(codes)),
            experiment_id=experiment[0],
            goal_ids=goals or None,
            reference=reference[0] if reference else None,
            metric=self.metric.value,
            alpha=float(self.level.value),
            correction=self.correction.value,
        )

    def _work(self, site_code: str, s: ExperimentSnapshot, report: Report) -> _Result:
        from ..experiments import _read_out
        from ..loaders import read_visitor_feeds

        report(0, 2, f"Loading the feeds of {len(s.visitor_codes):,} visitors…")
        feed = read_visitor_feeds(
            s.visitor_codes,
            previous_visits=25,
            kinds=["experiment", "conversion"],
            client=self.client,
            site_code=site_code,
            progress=False,
        )
        report(1, 2, f"Reading out experiment {s.experiment_id}…")
        # The private read-out, which does not warn: the view puts the SRM check in the status
        # line, since a warning on a worker thread would go nowhere useful.
        results, _ = _read_out(
            feed,
            experiment_id=s.experiment_id,
            goal_id=s.goal_ids,
            reference=s.reference,
            alpha=s.alpha,
            metric=s.metric,
            weights=None,
            correction=s.correction,
            exposures=None,
            conversions=None,
        )
        return _Result.of(experiment_view(results, s, site_code), results)

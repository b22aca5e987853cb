"""Experiment read-outs, the shaping half: events in, sufficient statistics per arm out.

Pure and vectorised (groupby/agg and numpy over integer codes; no loop over visitors). The
statistics themselves (tests, intervals, posteriors) live in :mod:`kameleoon_pandas.experiments`,
in the spirit of GrowthBook's gbstats: sufficient statistics per arm in, a result table out.

Two input shapes give the same arms:

- a visitor feed (``VISITOR_FEED``): its ``experiment`` rows are the exposures and its
  ``conversion`` rows the conversions (:func:`feed_exposures`, :func:`feed_conversions`);
- a warehouse export: an exposures frame (``visitor_code, experiment_id, variation_id, time``)
  and a conversions frame (``visitor_code, goal_id, revenue, time``, optionally ``negative``);
  ``site_code`` is optional in both.

The counting rules (:func:`arm_statistics`), per experiment:

1. A visitor is *exposed* to an experiment when they have at least one exposure (an
   ``experiment`` event) of it with a variation and a time; their *first exposure* is the
   earliest. Events without a time or a visitor code are left out, of both kinds.
2. A visitor exposed to more than one variation of the same experiment is left out of that
   experiment entirely and counted in ``excluded_visitors``.
3. A visitor's conversions on a goal count when they happen at or after the first exposure
   (``time >= first exposure``); earlier ones are ignored, negative ones included.
4. Each counted conversion adds +1 and its revenue; a ``negative=True`` conversion cancels
   one: it adds -1 and subtracts its revenue (a missing ``negative`` is False, a missing
   revenue 0). The visitor *converted* when the net count is at least 1; a converted visitor
   contributes the net revenue of their counted conversions, any other visitor 0.

Visitors are identified by ``(site_code, visitor_code)`` when both inputs carry a site code,
else by ``visitor_code``; experiments by ``(site_code, experiment_id)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd

from .._exceptions import ValidationError
from .schemas import EXPERIMENT_RESULTS, FLOAT, INT, STR, Schema

__all__ = [
    "ARM_STATISTICS",
    "CONVERSION_COLUMNS",
    "EXPERIMENT_RESULTS",
    "EXPOSURE_COLUMNS",
    "FEED_COLUMNS",
    "arm_statistics",
    "converted_goals",
    "exposed_experiments",
    "feed_conversions",
    "feed_exposures",
    "require_columns",
]

#: One row per arm and goal: the sufficient statistics the read-out needs. ``revenue_squares``
#: is the sum over the arm's visitors of their revenue squared (for the revenue variance);
#: ``excluded_visitors`` is per experiment, repeated on its rows.
ARM_STATISTICS: Schema = MappingProxyType(
    {
        "site_code": STR,
        "experiment_id": INT,
        "variation_id": INT,
        "goal_id": INT,
        "visitors": INT,
        "converted": INT,
        "revenue": FLOAT,
        "revenue_squares": FLOAT,
        "excluded_visitors": INT,
    }
)

#: The columns of a feed the read-out reads (``site_code`` and ``negative`` are optional).
FEED_COLUMNS: Final = (
    "visitor_code",
    "kind",
    "time",
    "experiment_id",
    "variation_id",
    "goal_id",
    "revenue",
)
#: The columns of an exposures frame (``site_code`` is optional).
EXPOSURE_COLUMNS: Final = ("visitor_code", "experiment_id", "variation_id", "time")
#: The columns of a conversions frame (``site_code`` and ``negative`` are optional).
CONVERSION_COLUMNS: Final = ("visitor_code", "goal_id", "revenue", "time")

_NS: Final = "datetime64[ns]"


def require_columns(frame: object, columns: Iterable[str], what: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame with every one of ``columns``; else a ValidationError.

    The message names the missing columns and the ones the frame has.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"{what} must be a pandas, polars or pyarrow DataFrame, got {type(frame).__name__}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{what} is missing column(s) {missing}; has {list(frame.columns)}")
    return frame


def _ids(series: pd.Series, what: str) -> pd.Series:
    """``series`` as nullable Int64 identifiers; a ValidationError naming it otherwise."""
    if str(series.dtype) == INT:
        return series
    try:
        return series.astype(INT)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must hold integer ids, got dtype {series.dtype}") from exc


def _times(series: pd.Series, what: str) -> np.ndarray:
    """``series`` as int64 nanoseconds since the epoch (UTC; naive times read as UTC).

    Missing times become ``NaT``'s integer, which callers drop with the mask of :func:`_known`.
    """
    try:
        stamps = pd.to_datetime(series, utc=True)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must hold times, got dtype {series.dtype}") from exc
    naive = stamps.dt.tz_convert(None).to_numpy().astype(_NS)
    return naive.view("int64")


def _known(times: np.ndarray) -> np.ndarray:
    return times != np.iinfo(np.int64).min


def _site(frame: pd.DataFrame) -> pd.Series | None:
    return frame["site_code"].astype(STR) if "site_code" in frame.columns else None


def feed_exposures(feed: pd.DataFrame) -> pd.DataFrame:
    """The exposures of a feed: its ``experiment`` rows as an exposures frame.

    Parameters
    ----------
    feed : DataFrame
        A ``VISITOR_FEED`` frame (at least ``visitor_code, kind, time, experiment_id,
        variation_id``; ``site_code`` when present is kept).

    Returns
    -------
    DataFrame
        ``[site_code,] visitor_code, experiment_id, variation_id, time``, one row per
        ``experiment`` event, in the feed's order (index reset).
    """
    rows = feed[(feed["kind"] == "experiment").fillna(False).to_numpy(dtype=bool)]
    cols = [c for c in ("site_code", *EXPOSURE_COLUMNS) if c in rows.columns]
    return rows[cols].reset_index(drop=True)


def feed_conversions(feed: pd.DataFrame) -> pd.DataFrame:
    """The conversions of a feed: its ``conversion`` rows as a conversions frame.

    Parameters
    ----------
    feed : DataFrame
        A ``VISITOR_FEED`` frame (at least ``visitor_code, kind, time, goal_id, revenue``;
        ``site_code`` and ``negative`` when present are kept).

    Returns
    -------
    DataFrame
        ``[site_code,] visitor_code, goal_id, revenue, [negative,] time``, one row per
        ``conversion`` event, in the feed's order (index reset).
    """
    rows = feed[(feed["kind"] == "conversion").fillna(False).to_numpy(dtype=bool)]
    cols = [
        c
        for c in ("site_code", "visitor_code", "goal_id", "revenue", "negative", "time")
        if c in rows.columns
    ]
    return rows[cols].reset_index(drop=True)


def _visitor_keys(
    exposures: pd.DataFrame, conversions: pd.DataFrame, by_site: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One int64 code per visitor, shared by both frames (factorized once over both)."""
    visitors = pd.concat(
        [exposures["visitor_code"].astype(STR), conversions["visitor_code"].astype(STR)],
        ignore_index=True,
    )
    codes, _ = pd.factorize(visitors, use_na_sentinel=False)
    codes = codes.astype(np.int64)
    if by_site:
        sites = pd.concat(
            [exposures["site_code"].astype(STR), conversions["site_code"].astype(STR)],
            ignore_index=True,
        )
        site_codes, _ = pd.factorize(sites, use_na_sentinel=False)
        codes = codes * (int(site_codes.max(initial=0)) + 1) + site_codes
    n = len(exposures)
    return codes[:n], codes[n:]


def converted_goals(conversions: pd.DataFrame) -> list[int]:
    """The goal ids of ``conversions`` (any time, any visitor), sorted."""
    goal = _ids(conversions["goal_id"], "conversions.goal_id")
    return sorted(int(g) for g in pd.unique(goal.dropna()))


def arm_statistics(
    exposures: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    experiment_ids: Sequence[int] | None = None,
    goal_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Per arm (experiment, variation) and goal: visitors, converted, revenue (module rules).

    Parameters
    ----------
    exposures : DataFrame
        ``visitor_code, experiment_id, variation_id, time`` (``site_code`` optional).
    conversions : DataFrame
        ``visitor_code, goal_id, revenue, time`` (``site_code``, ``negative`` optional).
    experiment_ids : sequence of int, optional
        Only these experiments; ``None``: every experiment with an exposure.
    goal_ids : sequence of int, optional
        These goals, each with a row per arm even when nobody converted on it; ``None``:
        every goal in ``conversions`` (any time, any visitor).

    Returns
    -------
    DataFrame
        The ``ARM_STATISTICS`` schema, one row per (experiment, variation, goal), sorted by
        site code, experiment, goal and variation. Arms are the variations with at least one
        exposed visitor left after the exclusion of rule 2. No goals give no rows.

    Raises
    ------
    ValidationError
        When a frame lacks a needed column, or ids or times are not ids or times.
    """
    require_columns(exposures, EXPOSURE_COLUMNS, "exposures")
    require_columns(conversions, CONVERSION_COLUMNS, "conversions")
    by_site = "site_code" in exposures.columns and "site_code" in conversions.columns
    key_e, key_c = _visitor_keys(exposures, conversions, by_site)

    # -- exposures: one row per (visitor, experiment) -----------------------------------------
    experiment = _ids(exposures["experiment_id"], "exposures.experiment_id")
    variation = _ids(exposures["variation_id"], "exposures.variation_id")
    t_e = _times(exposures["time"], "exposures.time")
    known = experiment.notna() & variation.notna() & exposures["visitor_code"].notna()
    keep = known.to_numpy(dtype=bool) & _known(t_e)
    if experiment_ids is not None:
        keep &= experiment.isin(list(experiment_ids)).to_numpy(dtype=bool)
    site = _site(exposures)
    site_codes, site_names = pd.factorize(
        (site if site is not None else pd.Series(pd.NA, index=exposures.index, dtype=STR))[keep],
        use_na_sentinel=False,
    )
    exp = pd.DataFrame(
        {
            "site": site_codes.astype(np.int64),
            "experiment": experiment[keep].to_numpy(dtype=np.int64),
            "visitor": key_e[keep],
            "variation": variation[keep].to_numpy(dtype=np.int64),
            "first": t_e[keep],
        }
    )
    per_visitor = exp.groupby(["site", "experiment", "visitor"], sort=False).agg(
        first=("first", "min"), low=("variation", "min"), high=("variation", "max")
    )
    multi = (per_visitor["low"] != per_visitor["high"]).to_numpy()
    excluded = (
        pd.Series(multi.astype(np.int64), index=per_visitor.index)
        .groupby(level=["site", "experiment"], sort=False)
        .sum()
        .rename("excluded_visitors")
    )
    kept = per_visitor[~multi].reset_index().rename(columns={"low": "variation"})
    kept = kept.drop(columns="high")
    visitors = (
        kept.groupby(["site", "experiment", "variation"], sort=False)
        .size()
        .rename("visitors")
        .reset_index()
    )

    # -- conversions: counted per (visitor, experiment, goal), then per arm and goal ----------
    goal = _ids(conversions["goal_id"], "conversions.goal_id")
    goals = (
        sorted(dict.fromkeys(int(g) for g in goal_ids))
        if goal_ids is not None
        else converted_goals(conversions)
    )
    t_c = _times(conversions["time"], "conversions.time")
    wanted = (goal.isin(goals) & conversions["visitor_code"].notna()).to_numpy(dtype=bool)
    wanted &= _known(t_c)
    wanted &= np.isin(key_c, kept["visitor"].to_numpy())
    sign = np.ones(int(wanted.sum()), dtype=np.int64)
    if "negative" in conversions.columns:
        negative = conversions["negative"][wanted].astype("boolean").fillna(False)
        sign = np.where(negative.to_numpy(dtype=bool), -1, 1)
    revenue = pd.to_numeric(conversions["revenue"][wanted], errors="coerce")
    conv = pd.DataFrame(
        {
            "visitor": key_c[wanted],
            "goal": goal[wanted].to_numpy(dtype=np.int64),
            "t": t_c[wanted],
            "n": sign,
            "money": revenue.astype(FLOAT).fillna(0.0).to_numpy() * sign,
        }
    )
    joined = conv.merge(kept, on="visitor", how="inner", sort=False)
    joined = joined[joined["t"].to_numpy() >= joined["first"].to_numpy()]
    net = joined.groupby(["site", "experiment", "variation", "goal", "visitor"], sort=False).agg(
        n=("n", "sum"), money=("money", "sum")
    )
    converted = net["n"].to_numpy() >= 1
    money = np.where(converted, net["money"].to_numpy(), 0.0)
    per_arm = (
        pd.DataFrame(
            {"converted": converted.astype(np.int64), "revenue": money, "squares": money * money},
            index=net.index,
        )
        .groupby(level=["site", "experiment", "variation", "goal"], sort=False)
        .sum()
    )

    # -- every arm x every goal, zeros where nobody converted ----------------------------------
    grid = visitors.merge(pd.DataFrame({"goal": np.array(goals, dtype=np.int64)}), how="cross")
    grid = grid.merge(
        per_arm.reset_index(), on=["site", "experiment", "variation", "goal"], how="left"
    ).merge(excluded.reset_index(), on=["site", "experiment"], how="left")
    grid = grid.fillna({"converted": 0, "revenue": 0.0, "squares": 0.0, "excluded_visitors": 0})
    names = pd.array(site_names, dtype=STR) if len(site_names) else pd.array([], dtype=STR)
    out = pd.DataFrame(
        {
            "site_code": pd.array(names.take(grid["site"].to_numpy()), dtype=STR),
            "experiment_id": pd.array(grid["experiment"].to_numpy(), dtype=INT),
            "variation_id": pd.array(grid["variation"].to_numpy(), dtype=INT),
            "goal_id": pd.array(grid["goal"].to_numpy(), dtype=INT),
            "visitors": pd.array(grid["visitors"].to_numpy(), dtype=INT),
            "converted": pd.array(grid["converted"].to_numpy(dtype=np.int64), dtype=INT),
            "revenue": grid["revenue"].to_numpy(dtype=np.float64),
            "revenue_squares": grid["squares"].to_numpy(dtype=np.float64),
            "excluded_visitors": pd.array(
                grid["excluded_visitors"].to_numpy(dtype=np.int64), dtype=INT
            ),
        }
    )
    order = ["site_code", "experiment_id", "goal_id", "variation_id"]
    return out.sort_values(order, kind="stable", na_position="first").reset_index(drop=True)


def exposed_experiments(exposures: pd.DataFrame) -> list[int]:
    """The experiment ids of ``exposures`` (with a visitor, a variation and a time), sorted."""
    experiment = _ids(exposures["experiment_id"], "exposures.experiment_id")
    variation = _ids(exposures["variation_id"], "exposures.variation_id")
    known = experiment.notna() & variation.notna() & exposures["visitor_code"].notna()
    mask = known.to_numpy(dtype=bool) & _known(_times(exposures["time"], "exposures.time"))
    return sorted(int(e) for e in pd.unique(experiment[mask]))

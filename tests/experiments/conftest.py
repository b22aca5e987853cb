"""A headless matplotlib for the experiment tests (the plot and the panel draw figures)."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported anywhere

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


# -- an emulator with one experiment, pushed through the API -----------------------------------

EXPERIMENT = 4242
A = [f"exp-a-{i:02d}" for i in range(30)]  # variation 0
B = [f"exp-b-{i:02d}" for i in range(30)]  # variation 1
EARLY = [f"exp-early-{i}" for i in range(5)]  # converted before exposure, then variation 1
BOTH = [f"exp-both-{i}" for i in range(3)]  # exposed to both variations: excluded
VISITORS = A + B + EARLY + BOTH


def _push(frame, kind: str, client) -> None:
    import time

    import kameleoon_pandas as kp

    report = kp.push_events(frame, kind, client=client, progress=False)
    assert report.sent == len(frame) and report.failed.empty, report
    time.sleep(0.05)  # the server stamps times on receipt: the next push is strictly later


@pytest.fixture(scope="session")
def experiment_client() -> Iterator[object]:
    """A client of a fresh emulator holding experiment 4242 (pushed in three rounds).

    1. Conversions of ``EARLY`` (goal 1, revenue 100): before any exposure, never counted.
    2. Exposures: ``A`` to variation 0, ``B`` and ``EARLY`` to 1, ``BOTH`` to 0 and 1.
    3. Conversions on goal 1: ``A[:6]`` (revenue 10), ``B[:12]`` (20), a negative one of
       ``B[0]`` (cancelling it), ``EARLY[0]`` (5) and ``BOTH[0]``; on goal 2: ``A[0]``.

    So on goal 1: variation 0 has 30 visitors, 6 converted, revenue 60; variation 1 has 35
    visitors, 12 converted (B[1:12] and EARLY[0]), revenue 225; 3 visitors are excluded.
    """
    import pandas as pd

    import kameleoon_pandas as kp
    from kameleoon_pandas.emulator import serve

    with serve() as srv:
        env = srv.env()
        with kp.Client(
            site_codes=srv.site_codes,
            base_url=srv.url,
            token_url=srv.token_url,
            client_id=env["KAMELEOON_CLIENT_ID"],
            client_secret=env["KAMELEOON_CLIENT_SECRET"],
        ) as client:
            early = pd.DataFrame({"visitor_code": EARLY, "goal_id": 1, "revenue": 100.0})
            _push(early, "conversion", client)
            exposed = [(c, 0) for c in A] + [(c, 1) for c in B + EARLY]
            exposed += [(c, v) for c in BOTH for v in (0, 1)]
            exposures = pd.DataFrame(exposed, columns=["visitor_code", "variation_id"])
            _push(exposures.assign(experiment_id=EXPERIMENT), "experiment", client)
            rows = [(c, 1, 10.0, False) for c in A[:6]] + [(c, 1, 20.0, False) for c in B[:12]]
            rows += [(B[0], 1, 20.0, True), (EARLY[0], 1, 5.0, False), (BOTH[0], 1, 1.0, False)]
            rows += [(A[0], 2, 0.0, False)]
            conversions = pd.DataFrame(
                rows, columns=["visitor_code", "goal_id", "revenue", "negative"]
            )
            _push(conversions, "conversion", client)
            yield client

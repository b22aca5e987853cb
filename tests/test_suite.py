"""The suite's own machinery: xdist groups keep their tests on one worker; the slow marker."""

from __future__ import annotations

import os

import pytest


@pytest.mark.xdist_group("house")
def test_xdist_groups_reach_the_scheduler(request: pytest.FixtureRequest) -> None:
    # `--dist loadgroup` sends a group to one worker only when the node id carries "@group";
    # without it, each Spark session, Dask cluster and demo run would start on both workers.
    if "PYTEST_XDIST_WORKER" not in os.environ or not request.config.option.loadgroup:
        pytest.skip("not run by an xdist worker with --dist loadgroup")
    assert request.node.nodeid.endswith("@house"), request.node.nodeid


def test_slow_marks_exactly_the_groups_that_start_other_processes(
    request: pytest.FixtureRequest,
) -> None:
    # `-m "not slow"` (the quick loop) leaves out every test of these groups, and only those
    groups = ("notebooks", "browser", "spark", "dask")
    items = request.session.items
    slow = {item.nodeid for item in items if item.get_closest_marker("slow")}
    grouped = {item.nodeid for item in items if any(item.get_closest_marker(g) for g in groups)}
    assert slow == grouped
    assert request.node.nodeid not in slow

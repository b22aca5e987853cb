"""The suite's own machinery: xdist groups really keep their tests on one worker."""

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

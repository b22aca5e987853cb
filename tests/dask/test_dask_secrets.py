"""The client secret reaches the workers (they fetch tokens with it) but never a task key, a
repr, the graph's text or the cluster's logs."""

from __future__ import annotations

import pandas as pd
import pytest
from dask_helpers import dask, dd, fail_after_first_post, restore_posts

import kameleoon_pandas as kp
import kameleoon_pandas.dask as kd
from kameleoon_pandas.dask._remote import RemoteClient

pytestmark = [pytest.mark.dask, pytest.mark.xdist_group("dask")]

SECRET = "s3cr3t-Only-The-Token-Endpoint-May-See"


@pytest.fixture
def secret_client(srv, site):
    srv.options.client_secret = SECRET
    try:
        with kp.Client(site, **{**srv.settings, "client_secret": SECRET}) as client:
            yield client
    finally:
        srv.options.client_secret = srv.settings["client_secret"]


def arguments(node) -> list[str]:
    """The reprs of a task's arguments, all the way down (tasks, data nodes, containers)."""
    if isinstance(node, list | tuple | set):
        return [repr(node), *(text for item in node for text in arguments(item))]
    if isinstance(node, dict):
        return [repr(node), *(text for item in node.values() for text in arguments(item))]
    texts = [repr(node)]
    for name in ("args", "kwargs", "value"):
        inner = getattr(node, name, None)
        if inner is not None and inner is not node:
            texts += arguments(inner)
    return texts


def texts_of(ddf) -> list[str]:
    """Every text dask shows of a collection: keys, reprs, the graph, the expression tree, and
    each task's arguments (a setting unpacked into the graph as a literal would show there)."""
    graph = ddf.__dask_graph__()
    optimized = ddf.optimize().__dask_graph__()
    return [
        *(text for task in dict(optimized).values() for text in arguments(task)),
        repr(ddf),
        str(ddf.__dask_keys__()),
        repr(graph),
        repr(dict(graph)),
        str(list(graph)),
        repr(dict(optimized)),
        ddf.expr.tree_repr(),
        repr(ddf.expr),
        ddf._repr_html_(),
    ]


def test_the_secret_is_in_no_key_repr_or_graph_text(cluster, srv, secret_client) -> None:
    kp.push_events(
        pd.DataFrame({"visitor_code": ["v1"], "goal_id": [1]}), "conversion", client=secret_client
    )
    feed = kd.read_visitor_feeds(["v1", "v2"], npartitions=2, client=secret_client)
    for text in texts_of(feed):
        assert SECRET not in text
    assert len(feed.compute()) == 1  # the workers did authenticate with it
    counters = kd.read_product_counters(["E1"], client=secret_client)
    assert all(SECRET not in text for text in texts_of(counters))


def test_the_tokens_do_not_depend_on_the_secret(srv, secret_client) -> None:
    remote = RemoteClient(secret_client.settings)
    assert SECRET not in repr(remote) and "max_in_flight" in repr(remote)
    # a fresh random token per RemoteClient: task keys never hash the settings
    assert dask.base.tokenize(remote) == dask.base.tokenize(remote)
    assert dask.base.tokenize(remote) != dask.base.tokenize(RemoteClient(secret_client.settings))


def test_a_failed_task_logs_no_secret(cluster, srv, secret_client) -> None:
    frame = pd.DataFrame({"visitor_code": ["v1", "v2"], "goal_id": 3})
    cluster.run(fail_after_first_post)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            kd.push_events(
                dd.from_pandas(frame, npartitions=1), "conversion", client=secret_client, retries=0
            )
    finally:
        cluster.run(restore_posts)
    logs = [str(cluster.get_scheduler_logs())]
    logs += [str(lines) for lines in cluster.get_worker_logs().values()]
    assert any("Compute Failed" in text or "injected" in text for text in logs)
    assert all(SECRET not in text for text in logs)

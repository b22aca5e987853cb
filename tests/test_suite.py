"""The suite's own machinery: xdist groups, the slow marker, the kernel pool."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# -- the kernel pool (tests/kernel_pool): kernels forked from one warm process -------------


def _pool_servers() -> set[int]:
    """The pids of the run's kernel pool servers (one per identity); skips without a pool."""
    folder = os.environ.get("KP_TESTS_KERNEL_POOL", "off")
    if folder == "off" or os.environ.get("KP_TESTS_PYTHON") != sys.executable:
        pytest.skip("the run has no kernel pool (KP_TESTS_KERNEL_POOL=off, or not on Linux)")
    return {int(p.read_text()) for p in Path(folder).glob("*.pid")}


@contextlib.contextmanager
def _kernel(env: dict[str, str], cwd: Path) -> Iterator[tuple[Any, Any]]:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel()
        else:
            km.cleanup_resources()


def _run(kc: Any, code: str) -> Any:
    out: list[str] = []

    def _hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    kc.execute_interactive(code, output_hook=_hook, timeout=60)
    return json.loads("".join(out))


_PROBE = (
    "import json, os, sys, matplotlib\n"
    "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'cwd': os.getcwd(),\n"
    "  'x': os.environ.get('POOL_PROBE'), 'backend': matplotlib.get_backend(),\n"
    "  'path': sys.path, 'argv': sys.argv[1:]}))"
)


@pytest.mark.notebooks
def test_a_pool_kernel_is_forked_and_sees_what_a_kernel_started_the_usual_way_sees(
    tmp_path: Path,
) -> None:
    _pool_servers()  # skips without a pool
    seen = {}
    for name, env in {
        "forked": dict(os.environ, POOL_PROBE="forked"),
        # Another MPLBACKEND than the first server imported matplotlib with: another server.
        "agg": dict(os.environ, POOL_PROBE="agg", MPLBACKEND="agg"),
        # Without the pool's variable the launcher runs ipykernel's own launcher.
        "usual": {k: v for k, v in os.environ.items() if k != "KP_TESTS_KERNEL_POOL"},
    }.items():
        with _kernel(env, tmp_path) as (km, kc):
            seen[name] = _run(kc, _PROBE)
            seen[name]["launcher"] = km.provisioner.pid
    forked, agg, usual = seen["forked"], seen["agg"], seen["usual"]
    servers = _pool_servers()
    assert forked["ppid"] in servers and agg["ppid"] in servers, (seen, servers)
    assert forked["ppid"] != agg["ppid"]  # one server per import-time environment
    assert forked["pid"] != forked["launcher"] and usual["pid"] == usual["launcher"]
    assert [s["x"] for s in (forked, agg, usual)] == ["forked", "agg", None]
    for s in (forked, agg):  # what the usual kernel sees
        assert (s["cwd"], s["path"], s["argv"][0]) == (str(tmp_path), usual["path"], "-f")
    assert [s["backend"] for s in (forked, agg, usual)] == [
        "module://matplotlib_inline.backend_inline",  # as ipykernel sets it when unset
        "agg",
        "module://matplotlib_inline.backend_inline",
    ]


@pytest.mark.notebooks
def test_a_kernel_whose_launcher_is_killed_is_killed_too(tmp_path: Path) -> None:
    _pool_servers()
    with _kernel(dict(os.environ), tmp_path) as (km, kc):
        kernel = _run(kc, _PROBE)["pid"]
        assert kernel != km.provisioner.pid
        os.kill(km.provisioner.pid, signal.SIGKILL)  # as the manager's kill after a timeout
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _exists(kernel):
            time.sleep(0.05)
        assert not _exists(kernel)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

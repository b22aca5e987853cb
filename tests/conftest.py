"""Test setup for the whole suite: no test sees the developer's own KAMELEOON_* settings."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

# jsonschema imports rfc3987_syntax where it is installed (jupyter-events wants it), and that
# module builds a lark grammar at import: 2.5 s in every test process that imports nbformat.
# It only checks the "iri" formats, which no schema read here (nbformat's) uses.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

DATA = Path(__file__).resolve().parent / "data"
KERNEL_POOL = Path(__file__).resolve().parent / "kernel_pool"


def pytest_configure(config: pytest.Config) -> None:
    """Start the run's Jupyter kernels from warm processes (``tests/kernel_pool``).

    The suite starts about 15 kernels (notebooks, the demo report, nbconvert, Voilà), and each
    spent about 1.8 core-s importing ipykernel, pandas, matplotlib and this package and then
    tearing them down. Set up once here, in the run's first process (the xdist controller,
    whose environment the workers inherit): the launcher that stands in for
    ``ipykernel_launcher`` goes first on ``PYTHONPATH``, and the server it starts on first use
    (one per import-time environment) forks each kernel. ``KP_TESTS_KERNEL_POOL=off`` starts
    every kernel the usual way.
    """
    if hasattr(config, "workerinput") or "KP_TESTS_KERNEL_POOL" in os.environ:
        return
    if not hasattr(os, "pidfd_open"):  # Linux only: elsewhere kernels start the usual way
        return
    folder = tempfile.mkdtemp(prefix="kp-kernels-")  # short: a socket path has 108 bytes
    os.environ["KP_TESTS_KERNEL_POOL"] = folder
    os.environ["KP_TESTS_KERNEL_POOL_OWNER"] = str(os.getpid())
    os.environ["KP_TESTS_PYTHON"] = sys.executable
    paths = [str(KERNEL_POOL / "launcher"), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)

    def _stop() -> None:
        for pid_file in Path(folder).glob("*.pid"):
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        shutil.rmtree(folder, ignore_errors=True)

    config.add_cleanup(_stop)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[object]:
    """Collect with the cyclic garbage collector off, then freeze what collection made.

    Importing the test modules and building 1,200 items made about 400,000 objects that live
    to the end, and the collector went through all of them each time it ran on the oldest
    generation: about 2 s during collection and 3 s during the run, per xdist worker. Frozen,
    they are left out of every later collection (``gc.freeze``). The price: a cycle among them
    that becomes garbage later is never freed, which for collection's objects is none that
    matters (they are the modules, items and marks the run keeps anyway).
    """
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
        gc.freeze()


#: The groups that start other processes (kernels, Chromium, a JVM, a Dask cluster): together
#: about half of the suite's CPU in 9 % of its tests. ``-m "not slow"`` is the quick loop.
SLOW_GROUPS = ("notebooks", "browser", "spark", "dask")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_GROUPS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _clean_kameleoon_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KAMELEOON_"):
            monkeypatch.delenv(name)


@pytest.fixture
def quick_connect_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quick retries after a refused connection, without the policy's real 0.25 s + 0.5 s
    of waiting: for tests about which error comes back, not about the delays."""
    from kameleoon_pandas import _retry

    monkeypatch.setattr(_retry, "CONNECT_RETRY_DELAY", 0.01)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The project's own test data: ``tests/data`` (recorded official-SDK requests in ``wire/``)."""
    return DATA


# -- the demo emulator ---------------------------------------------------------
# Shared by tests/notebooks, tests/panels and tests/plots: one demo emulator per session.


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the demo data set (seed number 0), written once for the whole run.

    Seeding takes about a second; the tests that want a demo emulator of their own get a copy
    (``demo_db``), on which ``serve(seed="demo", random_seed=0)`` finds the data already there.
    The xdist workers share one file: the first to take the lock writes it.

    The data ends an hour earlier than the demo's (at the start of the hour before this one):
    every visit in it is closed for the whole run. Otherwise a visit that is current (an event
    less than 30 minutes ago) can close between two reads of one test, which then disagree.
    """
    from kameleoon_pandas.emulator import EmulatorState, seed_state

    an_hour_ago_ms = int(time.time() * 1000) - 3_600_000

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    template = root / "demo-template.sqlite"
    with _exclusive(root / "demo-template.lock"):
        if not template.exists():
            partial = template.with_suffix(".partial")
            state = EmulatorState(str(partial))
            try:
                seed_state(state, "demo", random_seed=0, now_ms=an_hour_ago_ms)
            finally:
                state.close()  # checkpoints the WAL: the copy is one file
            os.replace(partial, template)
    return template


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """An advisory lock between this run's processes (none where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: each worker may write the template; the replace is atomic
        yield
        return
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def demo_db(_demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the seeded demo database, this test's own (``serve(db=demo_db, ...)``)."""
    db = tmp_path / "demo.sqlite"
    shutil.copyfile(_demo_template, db)
    return db


@pytest.fixture(scope="session")
def demo_server(_demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The emulator with the demo data set (seed number 0), on a file, for the whole session."""
    from kameleoon_pandas.emulator import serve

    db = tmp_path_factory.mktemp("emulator") / "demo.sqlite"
    shutil.copyfile(_demo_template, db)
    with serve(db=str(db), seed="demo", random_seed=0) as srv:
        yield srv


@pytest.fixture(scope="session")
def demo_client(demo_server: Any) -> Iterator[Any]:
    """A ``kp.Client`` of the demo emulator, with its two site codes."""
    import kameleoon_pandas as kp

    env = demo_server.env()
    with kp.Client(
        site_codes=demo_server.site_codes,
        base_url=demo_server.url,
        token_url=demo_server.token_url,
        client_id=env["KAMELEOON_CLIENT_ID"],
        client_secret=env["KAMELEOON_CLIENT_SECRET"],
    ) as client:
        yield client

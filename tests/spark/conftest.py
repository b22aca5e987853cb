"""One local Spark session (``local[2,2]``: two cores, a failed task tried twice) and one
emulator over loopback for every Spark test.

Skipped with a reason where PySpark or Java is missing; under ``CI=true`` that is an error, so
CI never passes without them. Every test module marks itself ``spark`` and
``xdist_group("spark")``: the session starts once, on one worker.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import missing

_sites = itertools.count(1)

#: The folder of the tests' PySpark daemon (see ``preload/kameleoon_test_daemon.py``).
PRELOAD = Path(__file__).resolve().parent / "preload"


def _python(folder: Path) -> Path:
    """A ``python`` for Spark's Python processes: this interpreter, without Spark's zips.

    Spark puts ``$SPARK_HOME/python/lib/pyspark.zip``, the py4j zip and its core jar first on
    the ``PYTHONPATH`` of every Python process it starts. The zip holds no bytecode, so each
    process (a worker daemon, and a planner for each step of each read and write) compiled
    PySpark's modules from source: 0.7 to 1 s of CPU each, 12 of the 52 core-s of
    ``tests/spark``. pip's PySpark is the same release in site-packages, compiled, so the
    processes run the same code without the zips. The wrapper is a POSIX shell script; on
    Windows, Spark gets the interpreter itself.
    """
    wrapper = folder / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        "set -f; old=$PYTHONPATH; new=; IFS=:\n"
        "for p in $old; do case $p in\n"
        "  */pyspark/python/lib/*.zip|*/pyspark/jars/*.jar) ;;\n"
        "  *) new=${new:+$new:}$p ;;\n"
        "esac; done\n"
        "PYTHONPATH=$new; export PYTHONPATH\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture(scope="session")
def spark_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the session's Spark event log (searched for secrets)."""
    return tmp_path_factory.mktemp("spark-events")


@pytest.fixture(scope="session")
def spark(spark_events: Path, emu: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session: quiet, two shuffle partitions, an event log to search for secrets, and
    the executors' environment pointing at the emulator (``spark.executorEnv.KAMELEOON_*``,
    as a cluster would set it; one environment, so one Python worker daemon). That daemon is
    ``preload/kameleoon_test_daemon.py``: the workers it forks have the package imported."""
    reason = missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the Spark tests: {reason}")
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    # The tasks' Python is this one (with the package and its dependencies), not PATH's,
    # started through a wrapper that takes Spark's zips off its path (see ``_python``).
    python = sys.executable if os.name == "nt" else _python(tmp_path_factory.mktemp("python"))
    os.environ["PYSPARK_PYTHON"] = str(python)
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    builder = (
        SparkSession.builder.master("local[2,2]")
        .appName("kameleoon-pandas-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.eventLog.enabled", "true")
        .config("spark.eventLog.dir", spark_events.as_uri())
        .config("spark.eventLog.compress", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        # Interpreted expressions, as in Spark's own tests: these test the data source, not
        # Spark's generated code, and compiling that code with Janino for each new plan was
        # about a sixth of the Spark tests' CPU (56 core-s without these two, 46 with).
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        # the tasks' Python workers fork from a daemon that has the package imported already
        .config("spark.python.daemon.module", "kameleoon_test_daemon")
    )
    for name, value in emu.env().items():
        if name.startswith("KAMELEOON_SITE_CODE"):
            continue  # every test names its own site
        builder = builder.config(f"spark.executorEnv.{name}", value)
    with pytest.MonkeyPatch.context() as patch:
        # The JVM keeps the environment it starts with and hands it to every Python process
        # it starts; this process and its other subprocesses do not see the folder.
        path = [str(PRELOAD), *filter(None, [os.environ.get("PYTHONPATH")])]
        patch.setenv("PYTHONPATH", os.pathsep.join(path))
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("OFF")  # the fault tests fail tasks on purpose
    import kameleoon_pandas.spark as kps

    kps.register(session)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def emu() -> Iterator[Any]:
    """The emulator, requiring a token: every task goes through the credentials flow."""
    from kameleoon_pandas.emulator import serve

    with serve(require_auth=True) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _calm_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emu" in request.fixturenames:
        from kameleoon_pandas.emulator import EmulatorOptions

        srv = request.getfixturevalue("emu")
        defaults = EmulatorOptions(require_auth=True)
        for name in ("fault_rate", "faults", "strict", "latency_ms", "max_event_body"):
            setattr(srv.options, name, getattr(defaults, name))


@pytest.fixture
def site() -> str:
    """A site code no other test uses."""
    return f"sparksite{next(_sites):03d}"


@pytest.fixture
def creds(emu: Any) -> dict[str, str]:
    """The format options that point a task at the emulator."""
    return {
        "baseUrl": emu.url,
        "clientId": emu.client_id,
        "clientSecret": emu.client_secret,
    }


@pytest.fixture
def client(emu: Any, site: str) -> Iterator[Any]:
    """A pandas-side client of the emulator, defaulting to this test's site."""
    with emu.client(site_code=site) as c:
        yield c

"""The tests' PySpark daemon: PySpark's own, with the package imported before it forks.

Spark starts each task's Python worker by forking its daemon (``spark.python.daemon.module``).
PySpark's daemon imports nothing before forking, so every new worker imported pandas, PyArrow
and the package again: 2 to 3 s of CPU on this machine, and a new worker follows every task
that fails (a failed task's worker exits), which the fault tests cause on purpose. Forked from
here, a worker finds them imported. Spark runs this as ``python -m kameleoon_test_daemon``;
conftest.py puts this folder on the ``PYTHONPATH`` the JVM hands its Python processes.

PySpark imports nothing before forking because pandas and PyArrow start threads at import,
and a forked child has only the thread that forked. Here those are OpenBLAS's pool, kept to
none below, and jemalloc's background thread, whose allocator handles fork itself.
"""

from __future__ import annotations

import os

# numpy's OpenBLAS otherwise starts its thread pool at import, before the fork
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pyspark.worker  # noqa: F401  (the task worker's own imports)
from pyspark.daemon import manager

import kameleoon_pandas.spark.source  # noqa: F401  (the data source and its tasks)

if __name__ == "__main__":
    manager()

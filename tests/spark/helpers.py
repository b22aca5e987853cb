"""Small helpers of the Spark tests: frames in, what the emulator stored out."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

#: PySpark 4.x warns about pandas 3 when it touches pandas itself; the package hands it Arrow.
PANDAS_WARNING = "ignore:PySpark does not yet fully support pandas:FutureWarning"


def missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'kameleoon-pandas[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install openjdk-17-jre-headless)"
    return None


def import_spark() -> ModuleType:
    """``kameleoon_pandas.spark``; the module is skipped without PySpark or Java, except under
    ``CI=true``, where that is an error (CI never passes without the Spark tests)."""
    reason = missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the Spark tests: {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return importlib.import_module("kameleoon_pandas.spark")


_tags: dict[int, dict[int, int]] = {}


def _partition_tags(spark: Any, n: int) -> dict[int, int]:
    """For each partition ``i < n``, a bigint that ``repartition(n, col)`` sends there."""
    if n not in _tags:
        probe = spark.range(256).selectExpr("id", f"pmod(hash(id), {n}) AS p").collect()
        found: dict[int, int] = {}
        for row in probe:
            found.setdefault(int(row.p), int(row.id))
        _tags[n] = found
    return _tags[n]


def spark_frame(spark: Any, *parts: pd.DataFrame) -> Any:
    """A Spark DataFrame whose partition ``i`` holds exactly the rows of ``parts[i]``, in order."""
    tags = _partition_tags(spark, len(parts))
    tagged = pd.concat(
        [p.assign(_part=tags[i], _row=np.arange(len(p))) for i, p in enumerate(parts)],
        ignore_index=True,
    )
    df = spark.createDataFrame(pa.Table.from_pandas(tagged, preserve_index=False))
    return df.repartition(len(parts), "_part").sortWithinPartitions("_row").drop("_part", "_row")


def stored_events(emu: Any, site: str, visitors: list[str]) -> list[tuple]:
    """``(visitor_code, time, seq, kind, data)`` of every event stored for these visitors."""
    return emu.state.visitor_events(site, visitors)


def nonces(rows: list[tuple]) -> list[str]:
    """The nonce of each stored event line."""
    out = []
    for *_, data in rows:
        fields = dict(part.split("=", 1) for part in data.split("&"))
        out.append(fields["nonce"])
    return out


def posts(emu: Any, path: str) -> int:
    """How many requests the emulator has served on ``POST <path>`` so far."""
    return emu.request_counts.get(f"POST {path}", 0)

"""The README's Python blocks run as written, in a fresh interpreter, from an empty folder.

A newcomer copies them first: each ``python`` block is executed in its own process, with no
``KAMELEOON_*`` settings and an empty working directory, so a path that only exists in the
checkout or a missing import fails here first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_python_blocks() -> None:
    assert BLOCKS, "README.md has no ```python block"


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_each_python_block_runs_as_written(number: int, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAMELEOON_")}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", BLOCKS[number]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"README block {number} failed:\n{done.stderr[-3000:]}"

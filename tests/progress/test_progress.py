"""Progress bars: live in a notebook or a terminal, absent when a notebook is executed headless."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kameleoon_pandas import _progress
from kameleoon_pandas.emulator import serve


def test_the_environment_variable_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMELEOON_PROGRESS", "1")
    assert not _progress.progress_bar(3, desc="x", progress=None).disable
    assert _progress.progress_bar(3, desc="x", progress=False).disable  # the argument wins
    monkeypatch.setenv("KAMELEOON_PROGRESS", "off")
    assert _progress.progress_bar(3, desc="x", progress=None).disable
    assert not _progress.progress_bar(3, desc="x", progress=True).disable


def test_a_kernel_started_by_a_headless_runner_shows_no_widget_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tqdm.notebook import tqdm as widget_bar

    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    assert _progress._interactive(widget_bar)  # a live notebook
    # This process as the kernel's parent: its command line is what the kernel reads.
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    argv = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().split(b"\0")[0].decode()
    monkeypatch.setattr(_progress, "_HEADLESS_RUNNERS", (Path(argv).name,))
    assert _progress._headless_kernel()
    assert not _progress._interactive(widget_bar)
    monkeypatch.setattr(_progress, "_HEADLESS_RUNNERS", ("no-such-runner",))
    assert _progress._interactive(widget_bar)


@pytest.mark.notebooks
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc (Linux)")
def test_jupyter_nbconvert_execute_saves_no_frozen_bar(tmp_path: Path) -> None:
    with serve() as srv:
        code = (
            "import kameleoon_pandas as kp\n"
            f"client = kp.Client({srv.site_codes[0]!r}, base_url={srv.url!r})\n"
            "kp.push_maps(__import__('pandas').DataFrame({'key': ['a', 'b'], 'n': [1, 2]}),"
            " client=client)\n"
            "frame = kp.read_maps(['a', 'b'], client=client)\n"
            "print(len(frame))"
        )
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        path = tmp_path / "bars.ipynb"
        nbformat.write(nb, path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAMELEOON_")}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter",
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--inplace",
                str(path),
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=180,
        )
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    shown = json.dumps(outputs)
    assert "2" in "".join(o.get("text", "") for o in outputs)  # the cell ran
    assert "%|" not in shown and "application/vnd.jupyter.widget-view+json" not in shown

"""The wheel carries what a plain install needs: the package, py.typed and the notebooks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kameleoon_pandas import demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        # The backend pyproject names, called directly: pip's isolated build env costs 10 s.
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("kameleoon_pandas-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_ships_the_notebooks_and_their_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"kameleoon_pandas/notebooks/{notebook.name}" in names
        assert wheel.read(f"kameleoon_pandas/notebooks/{notebook.name}") == notebook.read_bytes()
    assert "kameleoon_pandas/notebooks/data/store_purchases.csv" in names
    assert "kameleoon_pandas/py.typed" in names
    assert not any(name.startswith("tests/") for name in names)


def test_the_demo_finds_its_notebook_in_an_installed_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "site-packages" / "kameleoon_pandas" / "notebooks"
    installed.mkdir(parents=True)
    (installed / demo.REPORT_NOTEBOOK).write_text("{}", encoding="utf-8")
    monkeypatch.setattr(demo, "NOTEBOOKS_DIRS", (installed, tmp_path / "nowhere"))
    assert demo.find_notebook(demo.REPORT_NOTEBOOK) == installed / demo.REPORT_NOTEBOOK
    monkeypatch.setattr(demo, "NOTEBOOKS_DIRS", (tmp_path / "nowhere",))
    with pytest.raises(FileNotFoundError, match=demo.REPORT_NOTEBOOK):
        demo.find_notebook(demo.REPORT_NOTEBOOK)

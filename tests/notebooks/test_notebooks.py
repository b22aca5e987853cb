"""The notebooks run top to bottom against the emulator; the demo writes a readable HTML report."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import nbformat
import pytest

from kameleoon_pandas.demo import EMULATOR_DB_VARIABLE, demo_identifiers, execute_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
pytestmark = pytest.mark.notebooks

REPORT_SECTIONS = [
    "Product report",
    "Headline numbers",
    "Top products",
    "Funnel",
    "Trends per hour and per day",
    "Conversions per goal",
]
READOUT_SECTIONS = [
    "Experiment read-out",
    "Results per variation",
    "Uplift with its confidence interval",
    "Sample ratio check",
]
READOUT_HEADERS = [
    "Visitors",
    "Converted",
    "Conversion rate",
    "Uplift",
    "95% interval",
    "p-value",
    "Chance to beat reference",
    "Revenue",
    "Revenue per visitor",
]


def _outputs(nb, mime: str) -> list:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})
    ]


def _errors(nb) -> list:
    """Errors, and anything written to stderr (warnings included): a clean run has none."""
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
    ]


def _env(server) -> dict[str, str]:
    return server.env() | {EMULATOR_DB_VARIABLE: server.state.db}


def test_committed_notebooks_are_generated_and_clean() -> None:
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(NOTEBOOKS))
    for name in build_notebooks.NOTEBOOKS:
        text = (NOTEBOOKS / name).read_text(encoding="utf-8")
        assert text == build_notebooks.render(name), f"{name}: run notebooks/build_notebooks.py"
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
    report = nbformat.read(NOTEBOOKS / "02-product-report.ipynb", as_version=4)
    tagged = [c for c in report.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("site_code", "window_days", "top_n"):
        assert re.search(rf"^{name} = ", tagged[0].source, re.M)
    readout = nbformat.read(NOTEBOOKS / "05-experiment-readout.ipynb", as_version=4)
    tagged = [c for c in readout.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and readout.cells.index(tagged[0]) == 1  # at the top
    for name in ("site_code", "experiment_id", "goal_id", "alpha"):
        assert re.search(rf"^{name} = ", tagged[0].source, re.M)
    prose = " ".join(c.source for c in readout.cells if c.cell_type == "markdown")
    assert "cell" not in prose.lower()  # written for the reader of the report, not of the code


def test_quickstart_starts_its_own_emulator_without_settings() -> None:
    # No KAMELEOON_* variables here (the root conftest removes them): the notebook serves itself.
    nb = execute_notebook(NOTEBOOKS / "01-quickstart.ipynb")
    assert not _errors(nb)
    assert "demo-secret" not in nbformat.writes(nb)  # the cell showing `client` included
    assert len(_outputs(nb, "image/png")) == 2  # top products and a timeline
    widgets = [
        o["data"]["text/plain"] for o in _outputs(nb, "application/vnd.jupyter.widget-view+json")
    ]
    assert [w.split("(")[0] for w in widgets if "Panel(" in w] == [
        "CountersPanel",
        "VisitorFeedPanel",
    ]
    text = "\n".join(o["text"] for c in nb.cells for o in c.get("outputs", []) if "text" in o)
    assert "demosite01: 200 products" in text


def test_the_magics_notebook_runs_with_its_own_emulator() -> None:
    nb = execute_notebook(NOTEBOOKS / "04-magics.ipynb")
    assert not _errors(nb)
    assert "demo-secret" not in nbformat.writes(nb)
    tables = _outputs(nb, "text/html")
    assert len(tables) >= 4  # counters, products, feed, maps (and the push reports)
    widgets = [
        o["data"]["text/plain"] for o in _outputs(nb, "application/vnd.jupyter.widget-view+json")
    ]
    assert any(w.startswith("CountersPanel(") for w in widgets)


def test_product_report_takes_its_parameters(demo_server) -> None:
    nb = execute_notebook(
        NOTEBOOKS / "02-product-report.ipynb",
        env=_env(demo_server),
        parameters={"site_code": "demosite02", "top_n": 5, "window_days": 3},
    )
    assert not _errors(nb)
    assert len(_outputs(nb, "image/png")) == 4
    markdown = _outputs(nb, "text/markdown")[0]["data"]["text/markdown"]
    assert "`demosite02`" in markdown
    tables = [o["data"]["text/html"] for o in _outputs(nb, "text/html")]
    top_table = next(t for t in tables if "cart_rate" in t)
    rows = top_table.split("<tbody>")[1].split("<tr")[1:]
    assert len(rows) == 5
    assert all(re.search(r"<th>402\d{10}</th>", row) for row in rows)  # demosite02's EANs


def _headings(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>|¶", "", h).strip()
        for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)
    ]


def test_experiment_readout_finds_the_mismatched_split(demo_server) -> None:
    # The demo data's experiment 602: no effect, and 55/45 drawn where 50/50 is intended.
    nb = execute_notebook(
        NOTEBOOKS / "05-experiment-readout.ipynb",
        env=_env(demo_server),
        parameters={"site_code": "demosite02", "experiment_id": 602, "alpha": 0.1},
    )
    assert not _errors(nb)  # the SRM warning is reported in the text, not on stderr
    assert len(_outputs(nb, "image/png")) == 1
    markdown = [o["data"]["text/markdown"] for o in _outputs(nb, "text/markdown")]
    assert "`demosite02`" in markdown[0] and "**experiment** 602" in markdown[0]
    assert "90% interval" in markdown[1]
    assert markdown[-1].startswith("**Sample ratio mismatch**")
    assert re.search(r"6021: 5\d\.\d%, 6022: 4\d\.\d%", markdown[-1])
    table = next(o["data"]["text/html"] for o in _outputs(nb, "text/html"))
    assert "<th>90% interval</th>" in table and "6021 (reference)" in table


def test_offline_conversions_round_trip(tmp_path) -> None:
    from kameleoon_pandas.emulator import serve

    # A fresh emulator: this notebook writes, and must not change what the other tests read.
    with serve(db=str(tmp_path / "e.sqlite"), seed="demo") as srv:
        # Run from another folder than the notebook's: its data must still be found.
        nb = execute_notebook(
            NOTEBOOKS / "03-offline-conversions.ipynb", env=srv.env(), cwd=tmp_path
        )
        stored = srv.state.visitor_events("demosite01", ["store-cust-0002"])
    assert not _errors(nb)
    assert srv.client_secret not in nbformat.writes(nb)
    text = "\n".join(o["text"] for c in nb.cells for o in c.get("outputs", []) if "text" in o)
    assert "28 purchases from 4 stores" in text
    assert "24 conversions for 24 purchases" in text
    assert any("901" in str(row) for row in stored)


@pytest.mark.xdist_group("demo_report")  # one run of the demo for all three
def test_demo_report_html_has_sections_and_embedded_plots(demo_report: Path) -> None:
    assert demo_report.name == "product-report.html"
    executed = (demo_report.parent / "product-report.ipynb").read_text(encoding="utf-8")
    assert "demo-secret" not in executed and not _errors(nbformat.reads(executed, as_version=4))
    html = demo_report.read_text(encoding="utf-8")
    headings = [
        re.sub(r"<[^>]+>|¶", "", h).strip()
        for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)
    ]
    assert headings == REPORT_SECTIONS
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 4
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    # Readable offline: nothing to fetch for the content (no remote scripts or stylesheets).
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=\"https?:", html)
    assert "demo-secret" not in html
    assert "Traceback" not in html and "Error" not in re.sub(
        r"<style.*?</style>", "", html, flags=re.S
    )


@pytest.mark.xdist_group("demo_report")  # one run of the demo for all three
def test_demo_writes_the_experiment_readout_beside_the_product_report(demo_report: Path) -> None:
    readout = demo_report.parent / "experiment-readout.html"
    executed = (demo_report.parent / "experiment-readout.ipynb").read_text(encoding="utf-8")
    assert "demo-secret" not in executed and not _errors(nbformat.reads(executed, as_version=4))
    html = readout.read_text(encoding="utf-8")
    assert _headings(html) == READOUT_SECTIONS
    table = html.split("<table")[1].split("</table>")[0]
    headers = re.findall(r"<th>([^<]+)</th>", table.split("</thead>")[0])
    assert headers == [*READOUT_HEADERS, "Variation"]  # the index's name on its own row
    assert "6011 (reference)" in table and re.search(r"<td>\d+\.\d%</td>", table)
    assert re.search(r"<td>\d{1,3}(,\d{3})*\.\d{2}</td>", table)  # money, with separators
    # Experiment 601 (a true +15% uplift, an equal split): the data moves with the clock, so
    # only the sentences are checked here; tests/experiments/test_demo_truth.py checks the truth.
    assert "Variation 6012: " in html and "sample ratio mismatch" in html.lower()
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 1 and base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"<script[^>]+src=", html)
    assert "demo-secret" not in html and "Traceback" not in html


@pytest.mark.parametrize("name", ["02-product-report.ipynb", "05-experiment-readout.ipynb"])
def test_notebooks_say_what_to_set_against_a_real_api(name, demo_server) -> None:
    """Against an API that is not a known emulator, the notebook asks for the identifiers."""
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match=r"cannot list (products or )?visitors"):
        execute_notebook(NOTEBOOKS / name, env=demo_server.env())


def test_parameters_need_a_tagged_cell_and_identifiers_need_an_emulator(tmp_path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        execute_notebook(nb, parameters={"x": 2})  # refused before any kernel starts
    with pytest.raises(FileNotFoundError, match="no emulator database"):
        demo_identifiers(tmp_path / "missing.sqlite", "demosite01")


def test_demo_identifiers_list_what_the_emulator_holds(demo_server) -> None:
    ids = demo_identifiers(demo_server.state.db, "demosite02", visitors=10, keys=5)
    assert len(ids["eans"]) == 200 and all(e.startswith("402") for e in ids["eans"])
    assert len(ids["visitor_codes"]) == 10 and len(set(ids["visitor_codes"])) == 10
    assert len(ids["map_keys"]) == 5 and len(ids["mapping_values"]) == 5
    assert ids == demo_identifiers(demo_server.state, "demosite02", visitors=10, keys=5)

"""``%kam`` in notebooks executed headless: results flow between cells, failures fail the run."""

from __future__ import annotations

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

import kameleoon_pandas as kp
from kameleoon_pandas.demo import execute_notebook

from .conftest import SECRET

pytestmark = pytest.mark.notebooks


def _notebook(*sources: str) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell(source) for source in sources])


def test_a_notebook_reads_with_kam_and_uses_the_results(demo_server, demo_client, ids) -> None:
    eans = ids["eans"][:3]
    visitors = ids["visitor_codes"][:2]
    start = "2d"
    expected_feed = kp.read_visitor_feeds(visitors, previous_visits=1, client=demo_client)
    nb = _notebook(
        "%load_ext kameleoon_pandas",
        "%config KameleoonMagics.display_rows = 4",
        f"%kam counters {','.join(eans)} --start {start} --freq 1D -o counters",
        "assert len(counters) == 3 * counters['window_start'].nunique(), len(counters)\n"
        f"assert set(counters['ean']) == {set(eans)!r}\n"
        "print('counters', len(counters))",
        "%%kam feed --previous 1 -o feed\n" + "\n".join(visitors),
        f"assert len(feed) == {len(expected_feed)}, len(feed)",
        "%kam sites",
    )
    executed = execute_notebook(nb, env=demo_server.env())
    outputs = [o for cell in executed.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    assert any(t.startswith("counters ") for t in texts), texts
    results = [o for o in outputs if o.output_type == "execute_result"]
    html = results[0]["data"]["text/html"]
    assert "rows × 7 columns" in html and html.count("<tr") == 1 + 4 + 1, html  # display_rows
    assert "'demosite01', 'demosite02'" in results[-1]["data"]["text/plain"], results[-1]
    assert SECRET not in nbformat.writes(executed)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("%kam maps crm:1", "ConnectError"),
        ("%kam nosuch crm:1", "unknown subcommand"),
    ],
    ids=["api-error", "usage-error"],
)
def test_a_failing_kam_call_fails_the_executed_notebook(closed_port, source, error) -> None:
    nb = _notebook("%load_ext kameleoon_pandas", source, "print('not reached')")
    env = {"KAMELEOON_BASE_URL": f"http://127.0.0.1:{closed_port}", "KAMELEOON_SITE_CODE": "s"}
    with pytest.raises(CellExecutionError, match=error) as caught:
        execute_notebook(nb, env=env)
    assert "not reached" not in str(caught.value)

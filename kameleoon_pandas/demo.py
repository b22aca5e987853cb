"""The one-command demo: the emulator with demo data, the reports executed, HTML written.

``kameleoon-pandas demo [--out DIR] [--seed-number N]`` calls :func:`run_demo`. The notebook
helpers here (:func:`execute_notebook`, :func:`export_html`) are what the demo and the tests use
to run a notebook headless against a Data API and turn it into a self-contained HTML page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import ConfigurationError

if TYPE_CHECKING:
    from .emulator import EmulatorState

__all__ = [
    "EXPERIMENT_NOTEBOOK",
    "REPORT_NOTEBOOK",
    "demo_identifiers",
    "execute_notebook",
    "export_html",
    "find_notebook",
    "run_demo",
    "sample_data",
]

log = logging.getLogger(__name__)

#: The report the demo executes, under the checkout's ``notebooks/``.
REPORT_NOTEBOOK = "02-product-report.ipynb"
#: The experiment read-out the demo executes too, written beside the product report.
EXPERIMENT_NOTEBOOK = "05-experiment-readout.ipynb"

#: Where the notebooks live: inside an installed wheel (``pyproject.toml`` force-includes
#: them), else in the source checkout beside the package (an editable install).
NOTEBOOKS_DIRS = (
    Path(__file__).resolve().parent / "notebooks",
    Path(__file__).resolve().parents[1] / "notebooks",
)

# The lab template, minus everything it would fetch from a CDN (require.js, MathJax, Mermaid, the
# widget manager): the report has static content only (text, tables, PNG plots as data URIs)
# and must read the same offline as online.
_OFFLINE_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


#: The environment variable that points a notebook at an emulator's SQLite file (see
#: :func:`demo_identifiers`); the demo and the tests set it for the kernel.
EMULATOR_DB_VARIABLE = "KAMELEOON_EMULATOR_DB"


def demo_identifiers(
    source: EmulatorState | str | Path | None,
    site_code: str,
    *,
    visitors: int = 2000,
    keys: int = 100,
) -> dict[str, list[str]]:
    """EANs, visitor codes, map keys and mapping values stored in an emulator, for the notebooks.

    The Data API has no call that lists products or visitors: against a real account they come
    from your catalogue or warehouse. Against the emulator, this reads them from its SQLite
    state (``srv.state``, or the file of ``kameleoon-pandas serve --db PATH``).

    Parameters
    ----------
    source : EmulatorState, str, Path or None
        The emulator's state or its SQLite file; ``None`` (no emulator known, as in a notebook
        run against a real account) raises an error that says what to set instead.
    site_code : str
        The site code to list.
    visitors : int, default 2000
        At most this many visitor codes, the most recently active first.
    keys : int, default 100
        At most this many map keys and mapping values.

    Returns
    -------
    dict of str to list of str
        ``{"eans": [...], "visitor_codes": [...], "map_keys": [...], "mapping_values": [...]}``,
        every EAN of ``site_code`` among them.

    Raises
    ------
    ConfigurationError
        When ``source`` is ``None``.
    FileNotFoundError
        When ``source`` names no file.

    Examples
    --------
    >>> from kameleoon_pandas.demo import demo_identifiers
    >>> from kameleoon_pandas.emulator import serve
    >>> with serve(seed="demo") as srv:
    ...     ids = demo_identifiers(srv.state, "demosite01", visitors=5)
    >>> len(ids["eans"]), len(ids["visitor_codes"])
    (200, 5)
    """
    from .emulator import EmulatorState

    if source is None:
        raise ConfigurationError(
            "the Data API cannot list products or visitors: set the ones needed yourself "
            "(from your catalogue or warehouse: a report's eans / visitor_codes parameters), "
            f"or point {EMULATOR_DB_VARIABLE} at the emulator's database file"
        )
    if isinstance(source, EmulatorState):
        return source.identifiers(site_code, visitors=visitors, keys=keys)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no emulator database at {path}")
    state = EmulatorState(path)
    try:
        return state.identifiers(site_code, visitors=visitors, keys=keys)
    finally:
        state.close()


def sample_data(name: str) -> Path:
    """The path of a sample data file shipped with the notebooks (``notebooks/data/<name>``).

    Found from any working directory: in an installed wheel or in the source checkout.

    Examples
    --------
    >>> from kameleoon_pandas.demo import sample_data
    >>> sample_data("store_purchases.csv").name
    'store_purchases.csv'
    """
    return find_notebook(f"data/{name}")


def find_notebook(name: str) -> Path:
    """The path of the shipped notebook ``name``; a clear error when it is missing."""
    for folder in NOTEBOOKS_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{name} not found in {' or '.join(map(str, NOTEBOOKS_DIRS))}: reinstall "
        "kameleoon-pandas (its wheel ships the notebooks) or run from a source checkout"
    )


@contextlib.contextmanager
def _kernel_manager() -> Iterator[Any]:
    """A kernel manager for *this* interpreter, whatever kernel specs the machine has.

    ``python3`` would resolve through the user's Jupyter paths first, which on a developer
    machine can point at another interpreter without this package; a private spec cannot.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    with tempfile.TemporaryDirectory(prefix="kameleoon-kernel-") as tmp:
        spec_dir = Path(tmp) / "kameleoon-pandas"
        spec_dir.mkdir()
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (kameleoon-pandas)",
            "language": "python",
            # As ipykernel's own spec: the manager then provisions CurveZMQ keys, so the kernel
            # neither talks in clear text nor warns about it on stderr.
            "metadata": {"supported_encryption": ["curve"]},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        specs = KernelSpecManager(kernel_dirs=[tmp], ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name="kameleoon-pandas", kernel_spec_manager=specs)
        if km.has_trait("transport_encryption") and _has_curve():
            km.transport_encryption = "auto"  # jupyter_client >= 8.7 with a libzmq built with Curve
        yield km


def _has_curve() -> bool:
    import zmq

    return bool(zmq.has("curve"))


def _inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> None:
    """Add a cell after the ``parameters``-tagged one that overrides its values (as papermill)."""
    index = next(
        (
            i
            for i, cell in enumerate(nb.cells)
            if "parameters" in cell.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None:
        raise ValueError("the notebook has no cell tagged 'parameters' to override")
    import nbformat

    lines = ["# Parameters injected at execution"]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)


def execute_notebook(
    notebook: str | Path | Any,
    *,
    env: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 120.0,
    on_cell: Callable[[int, int], None] | None = None,
) -> Any:
    """Run a notebook top to bottom in a fresh kernel of this interpreter; return the executed one.

    ``env`` is added to this process's environment for the kernel (e.g. an emulator's
    ``srv.env()``); ``parameters`` override the ``parameters``-tagged cell; ``cwd`` defaults to
    the notebook's folder; ``on_cell(done, total)`` is called after each code cell. A failing
    cell raises ``nbclient.exceptions.CellExecutionError`` naming the cell and the error.
    """
    with _notebook_client(
        notebook, env=env, parameters=parameters, cwd=cwd, timeout=timeout, on_cell=on_cell
    ) as (client, nb, kernel_env):
        # cleanup_kc: with a manager passed in, nbclient would otherwise leave the kernel running
        # (and its sockets open) until this process exits.
        client.execute(env=kernel_env, cleanup_kc=True)
    return nb


def _execute_together(
    notebooks: Sequence[Path], *, env: Mapping[str, str], on_cell: Callable[[int, int], None]
) -> list[Any]:
    """Execute ``notebooks`` at the same time, each in its own kernel; the executed ones, in order.

    Each kernel spends much of its time waiting for the Data API, so running them side by side
    takes little longer than the slowest alone. ``on_cell(done, total)`` counts the code cells
    of all of them. The first failure is raised once every kernel has stopped.
    """
    from nbclient.util import run_sync

    done, total = 0, 0

    def _cell(_done: int, _total: int) -> None:  # one notebook's count: the sum is wanted
        nonlocal done
        done += 1  # the callbacks all run on the one event loop: no lock needed
        on_cell(done, total)

    async def _run() -> list[Any]:
        nonlocal total
        with contextlib.ExitStack() as stack:
            started = [
                stack.enter_context(_notebook_client(path, env=env, on_cell=_cell))
                for path in notebooks
            ]
            total = sum(_code_cells(nb) for _, nb, _ in started)
            outcomes = await asyncio.gather(
                *(client.async_execute(env=e, cleanup_kc=True) for client, _, e in started),
                return_exceptions=True,  # let every kernel finish (and stop) before raising
            )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return [nb for _, nb, _ in started]

    executed: list[Any] = run_sync(_run)()
    return executed


def _code_cells(nb: Any) -> int:
    return sum(1 for cell in nb.cells if cell.cell_type == "code")


@contextlib.contextmanager
def _notebook_client(
    notebook: str | Path | Any,
    *,
    env: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 120.0,
    on_cell: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """A ``NotebookClient`` ready to execute ``notebook``, the notebook, and the kernel's env."""
    import nbformat
    from nbclient import NotebookClient

    if isinstance(notebook, (str, Path)):
        path = Path(notebook)
        nb = nbformat.read(path, as_version=4)
        cwd = path.parent if cwd is None else cwd
    else:
        nb = notebook
    if parameters:
        _inject_parameters(nb, parameters)
    total = _code_cells(nb)
    done = 0

    def _cell_done(**_: Any) -> None:
        nonlocal done
        done += 1
        if on_cell is not None:
            on_cell(done, total)

    kernel_env = dict(os.environ)
    kernel_env.update(env or {})
    # The inline backend sends plots as PNG outputs, whatever MPLBACKEND the caller had set.
    kernel_env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # Executed headless: no widget would draw a bar, it would be saved as a frozen "0%|" line.
    kernel_env.setdefault("KAMELEOON_PROGRESS", "0")
    with _kernel_manager() as km:
        yield (
            NotebookClient(
                nb,
                km=km,
                timeout=timeout,
                startup_timeout=60,
                resources={"metadata": {"path": str(cwd or Path.cwd())}},
                on_cell_executed=_cell_done,
                # Once the last cell is done the kernel has nothing left to do: stopping it at
                # once saves the half second a graceful shutdown waits for it to exit.
                shutdown_kernel="immediate",
            ),
            nb,
            kernel_env,
        )


def export_html(nb: Any, *, title: str | None = None, show_code: bool = False) -> str:
    """A self-contained HTML page of an executed notebook: plots inline as data URIs, no CDN.

    Code cells are hidden unless ``show_code``; the reader sees text, tables and plots.
    """
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"kameleoon_report.html.j2": _OFFLINE_TEMPLATE})],
        template_file="kameleoon_report.html.j2",
        embed_images=True,
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    return body


class _Steps:
    """Progress of the demo on stderr: a tqdm bar over the report's cells, plus log lines."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()
        self._bar: Any = None

    def say(self, text: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            sys.stderr.write(f"[{elapsed:5.1f}s] {text}\n")
            sys.stderr.flush()
        log.info(text)

    def cell(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc="Executing the reports", unit="cell", file=sys.stderr
            )
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_demo(out_dir: Path, *, random_seed: int = 0, progress: bool = True) -> Path:
    """Seed an emulator, execute the reports on it, write ipynb and HTML; return the product one.

    The emulator runs on a temporary SQLite file with the demo data set for ``random_seed`` and
    is stopped before this returns. Files land in ``out_dir``: ``product-report.ipynb`` and
    ``product-report.html`` (the product report, whose HTML path is returned), and beside them
    ``experiment-readout.ipynb`` and ``experiment-readout.html`` (the read-out of the demo
    data's experiment with a known +15% uplift). ``progress`` writes steps and a bar to stderr.
    """
    import nbformat

    from .emulator import serve

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = [
        (find_notebook(REPORT_NOTEBOOK), "product-report", "Product report"),
        (find_notebook(EXPERIMENT_NOTEBOOK), "experiment-readout", "Experiment read-out"),
    ]
    steps = _Steps(progress)
    executed: list[Any] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kameleoon-demo-") as tmp:
            steps.say(f"Starting the emulator with the demo data (seed number {random_seed})…")
            db = Path(tmp) / "demo.sqlite"
            with serve(db=str(db), seed="demo", random_seed=random_seed) as srv:
                env = srv.env() | {EMULATOR_DB_VARIABLE: str(db)}
                names = " and ".join(notebook.name for notebook, _, _ in reports)
                steps.say(f"Emulator ready at {srv.url}; executing {names}…")
                notebooks = [notebook for notebook, _, _ in reports]
                executed = _execute_together(notebooks, env=env, on_cell=steps.cell)
                steps.close()
                site_code = srv.site_codes[0] if srv.site_codes else "demo"
            steps.say("Emulator stopped; writing the reports…")
        paths: list[Path] = []
        for nb, (_, stem, title) in zip(executed, reports, strict=True):
            ipynb_path, html_path = out_dir / f"{stem}.ipynb", out_dir / f"{stem}.html"
            nbformat.write(nb, ipynb_path)
            html_path.write_text(export_html(nb, title=f"{title} — {site_code}"), encoding="utf-8")
            steps.say(f"Wrote {ipynb_path} and {html_path}")
            paths.append(html_path)
    finally:
        steps.close()
    return paths[0]

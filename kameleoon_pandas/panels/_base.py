"""The machinery every panel shares: controls in a VBox, a worker thread, the hand-back, outputs.

A panel subclasses :class:`_Panel` and defines its control rows, a snapshot of the control
values (read on the kernel thread) and the work (run on the worker thread: load, then a pure
view function of ``views``). Pressing Load starts the work on a background thread, so the
kernel stays responsive; the result is handed back to the kernel's event loop (when there is
one) and shown by replacing the ``Output``'s content — nothing is printed from the background
thread. Errors appear in the status line instead of being lost.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ipywidgets as widgets
import pandas as pd

from .._exceptions import ValidationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..client import Client
    from .views import View

#: Labels longer than the default description width stay whole.
_WIDE = {"description_width": "initial"}

#: The snapshot type of a panel (its control values for one load).
S = TypeVar("S")

#: The worker's progress callback: ``report(done, total, text)``.
Report = Callable[[int, int, str], None]


def resolve_site_codes(client: Client | None, site_codes: Iterable[str] | None) -> list[str]:
    """The argument, else the client's ``site_codes``, else ``KAMELEOON_SITE_CODES``/``_CODE``."""
    if site_codes is not None:
        codes = [site_codes] if isinstance(site_codes, str) else list(site_codes)
    elif client is not None:
        codes = list(client.site_codes)
    else:
        raw = os.environ.get("KAMELEOON_SITE_CODES") or os.environ.get("KAMELEOON_SITE_CODE", "")
        codes = raw.split(",")
    codes = [str(c).strip() for c in codes]
    return list(dict.fromkeys(c for c in codes if c))


def figure_png(fig: Figure) -> bytes:
    """Render a pyplot-free figure to PNG bytes (safe on a worker thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _png_output(png: bytes, alt: str) -> dict[str, Any]:
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt},
        "metadata": {},
    }


def _table_output(frame: pd.DataFrame, caption: str) -> dict[str, Any]:
    table = frame.to_html(index=False, border=0, classes="kp-table", na_rep="", max_rows=200)
    return {
        "output_type": "display_data",
        "data": {
            "text/html": f"<p><b>{html.escape(caption)}</b></p>{table}",
            "text/plain": f"{caption}\n{frame.to_string(index=False, max_rows=50)}",
        },
        "metadata": {},
    }


def _error_html(text: str) -> str:
    return f'<span style="color:#b00020"><b>Error:</b> {html.escape(text)}</span>'


@dataclass
class _Result:
    outputs: tuple[dict[str, Any], ...]
    status: str
    frame: pd.DataFrame

    @classmethod
    def of(cls, view: View, frame: pd.DataFrame) -> _Result:
        """The outputs of ``view`` (the PNG, then the table), rendered on the worker thread."""
        outputs = []
        if view.figure is not None:
            outputs.append(_png_output(figure_png(view.figure), view.figure_alt))
        if view.table is not None:
            outputs.append(_table_output(view.table, view.table_caption))
        return cls(tuple(outputs), view.status, frame)


class _Panel(widgets.VBox, Generic[S]):
    """The machinery both panels share: a Load button, a status line, an Output, a worker."""

    def __init__(self, client: Client | None, site_codes: Iterable[str] | None) -> None:
        self._client = client
        codes = resolve_site_codes(client, site_codes)
        self.site_code = widgets.Dropdown(
            options=codes, value=codes[0] if codes else None, description="Site code"
        )
        self.load_button = widgets.Button(
            description="Load", button_style="primary", icon="download", tooltip="Load the data"
        )
        self.status = widgets.HTML(value=self._idle_text(codes))
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="220px", visibility="hidden")
        )
        self.output = widgets.Output()
        #: The last loaded frame (None before the first successful load).
        self.frame: pd.DataFrame | None = None
        #: The running or last load; done once its result is shown in the panel.
        self.future: Future[pd.DataFrame | None] | None = None
        self._shown = threading.Event()
        self._shown.set()
        self._generation = 0
        self._shown_generation = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: tuple[int, _Result | BaseException] | None = None
        self.load_button.on_click(self._on_click)
        super().__init__(
            children=[
                *self._control_rows(),
                widgets.HBox([self.load_button, self.progress, self.status]),
                self.output,
            ]
        )

    # -- what a panel defines ---------------------------------------------------------------

    def _control_rows(self) -> list[widgets.Widget]:
        raise NotImplementedError

    def _snapshot(self) -> S:
        """Control values, read on the kernel thread before the worker starts."""
        raise NotImplementedError

    def _work(self, site_code: str, s: S, report: Report) -> _Result:
        """Runs on the worker thread: load, plot, build the outputs from the snapshot ``s``."""
        raise NotImplementedError

    # -- machinery --------------------------------------------------------------------------

    @staticmethod
    def _idle_text(codes: Sequence[str]) -> str:
        if codes:
            return "Ready: choose the options and press Load."
        return _error_html(
            "No site codes: pass site_codes=[...] or set KAMELEOON_SITE_CODES (comma-separated)."
        )

    @property
    def client(self) -> Client:
        """The client the panel uses: the one given, else the default built from the env."""
        if self._client is None:
            from ..client import resolve_client

            self._client = resolve_client(None)
        return self._client

    def load(self) -> Future[pd.DataFrame | None]:
        """Start loading with the current control values (what the Load button does)."""
        self._on_click(self.load_button)
        assert self.future is not None
        return self.future

    def wait(self, timeout: float | None = 60.0) -> pd.DataFrame | None:
        """Block until the running load is shown in the panel; return its frame (None on error).

        For scripts and tests. In a notebook the panel updates itself; do not call this there
        from a cell while a load runs (the result is shown through the kernel's loop).
        """
        future = self.future
        if future is None:
            return None
        future.result(timeout=timeout)  # the worker finished (raises TimeoutError if not)
        if not self._shown.wait(timeout=0.05):
            # The kernel's loop cannot run the hand-back while this thread waits on it: show
            # the result from here (the hand-back then finds it already shown).
            self._show_pending()
        self._shown.wait(timeout=timeout)
        return future.result()

    def _on_click(self, _button: widgets.Button) -> None:
        if self.future is not None and not self.future.done():
            return  # one load at a time; the button is disabled meanwhile anyway
        try:
            self._loop = asyncio.get_running_loop()  # the kernel's loop, when in Jupyter
        except RuntimeError:
            self._loop = None
        future: Future[pd.DataFrame | None] = Future()
        self.future = future
        self._shown.clear()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._pending = None
        site_code = self.site_code.value
        try:
            if not site_code:
                raise ValidationError("choose a site code first")
            snapshot = self._snapshot()
        except Exception as exc:
            self._deliver(generation, exc)
            future.set_result(None)
            return
        self.load_button.disabled = True
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.status.value = "Loading…"
        thread = threading.Thread(
            target=self._run,
            args=(future, generation, site_code, snapshot),
            name=f"kameleoon-{type(self).__name__}",
            daemon=True,
        )
        thread.start()

    def _run(
        self, future: Future[pd.DataFrame | None], generation: int, site_code: str, snapshot: S
    ) -> None:
        def report(done: int, total: int, text: str) -> None:
            self._post(lambda: self._set_progress(generation, done, total, text))

        try:
            result: _Result | BaseException = self._work(site_code, snapshot, report)
        except Exception as exc:
            result = exc
        with self._lock:
            self._pending = (generation, result)
        self._post(self._show_pending)
        # Resolve the future after the hand-back is queued, so wait() sees a pending result.
        future.set_result(None if isinstance(result, BaseException) else result.frame)

    def _post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the kernel's loop when there is one, else right here."""
        loop = self._loop
        if loop is not None and loop.is_running() and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn)
                return
            except RuntimeError:  # the loop closed in between
                pass
        fn()

    def _set_progress(self, generation: int, done: int, total: int, text: str) -> None:
        if generation != self._generation or generation == self._shown_generation:
            return  # a newer load runs, or this one's result is already shown
        self.progress.max = max(total, 1)
        self.progress.value = min(done, total)
        self.status.value = html.escape(text)

    def _show_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return
        self._deliver(*pending)

    def _deliver(self, generation: int, result: _Result | BaseException) -> None:
        if generation != self._generation:
            return
        self.load_button.disabled = False
        self.progress.layout.visibility = "hidden"
        if isinstance(result, BaseException):
            self.status.value = _error_html(f"{type(result).__name__}: {result}")
        else:
            self.frame = result.frame
            # Replacing the outputs (not printing into the Output) is safe from any thread
            # and leaves exactly one plot and one table.
            self.output.outputs = result.outputs
            self.status.value = html.escape(result.status)
        self._shown_generation = generation
        self._shown.set()

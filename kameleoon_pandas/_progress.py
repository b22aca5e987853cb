"""One ``tqdm.auto`` bar per loader or writer call: loaders count requests, writers rows.

``progress=None`` shows the bar in a live notebook or a terminal and stays silent when output is
piped or captured, and in a notebook executed headless (nbconvert, papermill, nbclient: there a
widget bar would be saved as a frozen ``0%|`` line); ``True``/``False`` force it on or off. The
environment variable ``KAMELEOON_PROGRESS`` (``0``/``1``) sets the default for a whole process,
e.g. a kernel that executes reports. A bar's text names the work, never a secret.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["progress_bar"]


def is_notebook_bar(cls: type) -> bool:
    """True for tqdm's widget flavour, which ``tqdm.auto`` picks inside a Jupyter kernel."""
    return any(base.__module__ == "tqdm.notebook" for base in cls.__mro__)


#: Programs that execute notebooks without a frontend to draw widgets.
_HEADLESS_RUNNERS = ("nbconvert", "papermill", "nbclient")


def _headless_kernel() -> bool:
    """Whether this kernel was started by a program that executes notebooks headless.

    jupyter_client tells a kernel who started it (``JPY_PARENT_PID``); its command line names
    the runner. Where that cannot be read (not Linux), the answer is no.
    """
    parent = os.environ.get("JPY_PARENT_PID")
    if not parent or not parent.isdigit():
        return False
    try:
        argv = Path(f"/proc/{parent}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        return False
    return any(runner in argv for runner in _HEADLESS_RUNNERS)


def _from_environment() -> bool | None:
    value = os.environ.get("KAMELEOON_PROGRESS", "").strip().lower()
    if value in {"0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    return None


def _interactive(cls: type) -> bool:
    if is_notebook_bar(cls):
        # A notebook's stderr is not a TTY, yet a widget bar is exactly what a live one shows.
        return not _headless_kernel()
    stream = sys.stderr
    try:
        isatty = bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        isatty = False
    return isatty


def progress_bar(
    total: int, *, desc: str, progress: bool | None, unit: str = "request", **kwargs: Any
) -> tqdm:
    """A tqdm.auto bar of ``total`` steps; disabled unless interactive or forced on.

    Usable as a context manager; ``.update(n)`` advances it (thread-safe).
    """
    # Imported here: tqdm.auto decides between widget and text bars when first imported, and
    # by now a Jupyter kernel (if any) is surely loaded.
    from tqdm.auto import tqdm

    if progress is None:
        progress = _from_environment()
    enabled = _interactive(tqdm) if progress is None else bool(progress)
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled,
        leave=True,
        dynamic_ncols=True,
        **kwargs,
    )

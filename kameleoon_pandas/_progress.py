"""One ``tqdm.auto`` bar per loader or writer call: loaders count requests, writers rows.

``progress=None`` shows the bar in a notebook or a terminal and stays silent when output is piped
or captured; ``True``/``False`` force it on or off. A bar's text names the work, never a secret.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["progress_bar"]


def is_notebook_bar(cls: type) -> bool:
    """True for tqdm's widget flavour, which ``tqdm.auto`` picks inside a Jupyter kernel."""
    return any(base.__module__ == "tqdm.notebook" for base in cls.__mro__)


def _interactive(cls: type) -> bool:
    # A notebook's stderr is not a TTY, yet a widget bar is exactly what it should show.
    stream = sys.stderr
    try:
        isatty = bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        isatty = False
    return isatty or is_notebook_bar(cls)


def progress_bar(
    total: int, *, desc: str, progress: bool | None, unit: str = "request", **kwargs: Any
) -> tqdm:
    """A tqdm.auto bar of ``total`` steps; disabled unless interactive or forced on.

    Usable as a context manager; ``.update(n)`` advances it (thread-safe).
    """
    # Imported here: tqdm.auto decides between widget and text bars when first imported, and
    # by now a Jupyter kernel (if any) is surely loaded.
    from tqdm.auto import tqdm

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

"""Interactive panels for Jupyter: choose a site code and a window, press Load, see plot and table.

Each panel is an ipywidgets ``VBox`` that owns its controls, a status line and one ``Output``.
Pressing Load starts the work on a background thread, so the kernel stays responsive; the
result is handed back to the kernel's event loop (when there is one) and shown by replacing the
``Output``'s content — nothing is printed from the background thread. Errors appear in the
status line instead of being lost.

In a script or a test, set the controls' ``.value``, call ``panel.load_button.click()`` and then
``panel.wait()``; ``panel.output.outputs`` holds the plot (``image/png``) and the table
(``text/html``). Nothing in a panel shows a secret: the client's secret and tokens are never
read here, and error texts come from the library's own errors, which never carry them.

The rooms: ``_base`` (the worker and hand-back machinery every panel shares), ``counters``
(:class:`CountersPanel`), ``feed`` (:class:`VisitorFeedPanel`), ``experiment``
(:class:`ExperimentPanel`) and ``views`` (the pure
aggregate -> plot -> table step of each panel, testable without widgets).
"""

from __future__ import annotations

# The names importable from here before the split stay so (explicit re-exports, not in __all__).
from ._base import figure_png as figure_png
from ._base import resolve_site_codes as resolve_site_codes
from .counters import MAX_WINDOWS as MAX_WINDOWS
from .counters import PRESETS as PRESETS
from .counters import WINDOW_SIZES as WINDOW_SIZES
from .counters import CountersPanel
from .counters import auto_freq as auto_freq
from .experiment import ExperimentPanel
from .feed import VisitorFeedPanel
from .views import events_table as events_table
from .views import new_figure as new_figure

__all__ = ["CountersPanel", "ExperimentPanel", "VisitorFeedPanel"]

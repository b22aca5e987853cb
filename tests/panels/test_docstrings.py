"""The panel classes' docstrings: ``__init__``'s parameters and the controls, numpydoc style."""

from __future__ import annotations

import inspect

import pytest
from numpydoc_sections import documented, sections

from kameleoon_pandas import panels

#: The controls the panel tests set or read, per panel.
CONTROLS = {
    panels.CountersPanel: [
        "site_code",
        "preset",
        "start_date",
        "end_date",
        "window_size",
        "metric",
        "top_n",
        "eans",
        "load_button",
        "status",
        "output",
        "frame",
    ],
    panels.VisitorFeedPanel: [
        "site_code",
        "by",
        "visitor_code",
        "previous_visits",
        "kinds",
        "load_button",
        "status",
        "output",
        "frame",
    ],
}


@pytest.mark.parametrize("panel", list(CONTROLS), ids=lambda c: c.__name__)
def test_panel_docstrings_document_parameters_controls_and_examples(panel) -> None:
    parts = sections(inspect.getdoc(panel))
    summary = parts[""].strip().splitlines()
    assert summary[0].endswith(".") and (len(summary) == 1 or summary[1] == "")
    assert {"Parameters", "Attributes", "Examples"} <= set(parts)
    init = list(inspect.signature(panel.__init__).parameters)[1:]  # without self
    assert documented(parts["Parameters"]) == init
    assert documented(parts["Attributes"]) == CONTROLS[panel]
    assert f"kp.panels.{panel.__name__}(" in parts["Examples"]
    instance = panel(site_codes=["s1"])
    for name in CONTROLS[panel]:
        assert hasattr(instance, name), name


def test_all_lists_the_panels() -> None:
    assert panels.__all__ == ["CountersPanel", "ExperimentPanel", "VisitorFeedPanel"]
    for name in panels.__all__:
        assert inspect.getdoc(getattr(panels, name))

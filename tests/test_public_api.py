"""The public surface: __all__ is complete and true, and importing stays light."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pandas as pd

import kameleoon_pandas as kp


def test_all_names_resolve() -> None:
    for name in kp.__all__:
        assert getattr(kp, name) is not None, name


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(kp).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    public -= {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    assert public <= set(kp.__all__), sorted(public - set(kp.__all__))


def test_every_error_is_a_kameleoon_error() -> None:
    errors = [getattr(kp, n) for n in kp.__all__ if n.endswith("Error")]
    assert len(errors) >= 10
    for error in errors:
        assert issubclass(error, kp.KameleoonError), error


def test_import_registers_the_accessor() -> None:
    frame = pd.DataFrame({"visitor_code": ["v1"]})
    assert hasattr(frame.kam, "push_events")
    assert callable(frame.kam.forget)


def test_public_functions_have_docstrings() -> None:
    for name in kp.__all__:
        value = getattr(kp, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_import_does_not_load_the_heavy_rooms() -> None:
    code = (
        "import sys, kameleoon_pandas;"
        "rooms = ('matplotlib', 'ipywidgets', 'starlette', 'uvicorn');"
        "heavy = [m for m in rooms if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

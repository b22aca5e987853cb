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


EXPECTED_PUBLIC = {
    # errors and warnings
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "KameleoonError",
    "KameleoonWarning",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PushError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    # clients, loaders, writers, the report
    "AsyncClient",
    "Client",
    "read_maps",
    "read_product_counters",
    "read_product_data",
    "read_visitor_feeds",
    "forget_visitors",
    "push_events",
    "push_maps",
    "push_product_events",
    "PushReport",
    "experiment_results",
    "read_experiment",
    # the lazy rooms and the version
    "emulator",
    "panels",
    "plots",
    "__version__",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(kp.__all__) == EXPECTED_PUBLIC
    assert len(kp.__all__) == len(set(kp.__all__))
    # Every public-looking name of the module is in __all__ (submodules imported as a side
    # effect, like kp.client, are rooms, not names users type).
    public = {
        name
        for name, value in vars(kp).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    public -= {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    # The hooks IPython looks up by name for %load_ext: a protocol, not names users type.
    public -= {"load_ipython_extension", "unload_ipython_extension"}
    assert public <= set(kp.__all__), sorted(public - set(kp.__all__))


def test_dir_shows_only_public_names() -> None:
    assert dir(kp) == sorted(kp.__all__)


def test_public_exceptions_live_in_the_package_namespace() -> None:
    for name in kp.__all__:
        value = getattr(kp, name)
        if isinstance(value, type) and issubclass(value, Exception | Warning):
            assert value.__module__ == "kameleoon_pandas", name
            assert getattr(kp, value.__qualname__) is value


def test_the_error_tree() -> None:
    assert issubclass(kp.TransportError, kp.APIError)
    assert issubclass(kp.APIStatusError, kp.APIError)
    assert issubclass(kp.APIError, kp.KameleoonError)
    assert issubclass(kp.PushError, kp.KameleoonError)
    assert not issubclass(kp.PushError, kp.APIError)
    for status_error in ("BadRequestError", "AuthenticationError", "ServerError"):
        assert issubclass(getattr(kp, status_error), kp.APIStatusError)
    # The tree drawn in the module docstring names every public error.
    from kameleoon_pandas import _exceptions

    drawn = _exceptions.__doc__ or ""
    for name in kp.__all__:
        if name.endswith("Error"):
            assert name in drawn, name


def test_one_version_source() -> None:
    from importlib.metadata import version

    from kameleoon_pandas._version import __version__

    assert kp.__version__ == __version__ == version("kameleoon-pandas")


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
        "rooms = ('matplotlib', 'ipywidgets', 'starlette', 'uvicorn', 'scipy', 'statsmodels',"
        " 'dask', 'distributed', 'polars', 'pyspark');"
        "heavy = [m for m in rooms if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_public_docstring_keeps_a_shared_placeholder() -> None:
    # A `{settings}` line left unfilled means a @shared_doc went onto the wrong object.
    from kameleoon_pandas._docs import _PLACEHOLDER

    for name in kp.__all__:
        value = getattr(kp, name)
        docs = [inspect.getdoc(value) or ""]
        if inspect.isclass(value):
            docs += [inspect.getdoc(m) or "" for _, m in inspect.getmembers(value, callable)]
        for doc in docs:
            assert not _PLACEHOLDER.search(doc), f"{name}: unfilled {_PLACEHOLDER.search(doc)[0]!r}"

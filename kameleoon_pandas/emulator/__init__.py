"""A local Kameleoon Data API (the emulator): every endpoint of the contract plus ``/oauth/token``.

::

    from kameleoon_pandas.emulator import serve
    with serve(seed="demo") as srv:          # uvicorn on a background thread, a free port
        srv.url, srv.client_id, srv.client_secret, srv.site_codes, srv.env()

``create_app(state, options)`` gives the ASGI app for in-process use with
``httpx.ASGITransport``; ``kameleoon-pandas serve`` (or ``python -m kameleoon_pandas.emulator``)
runs it in the foreground.

The rooms: ``options`` (the behaviour switches), ``state`` (SQLite), ``model`` (the rules over
the state: visits, feeds, mapping links, products, maps, forget), ``wire`` (parsing both body
encodings and the query, every parse bounded: no input gives a 500), ``shapes`` (the fast path
of line bodies, a subset of what ``wire`` accepts), ``routes`` (Starlette: parse, call the model,
render), ``faults`` (latency, auth, injected faults, the access log and the catch-all 500),
``server`` (uvicorn), ``seed`` (demo data), ``args`` (the command line). The emulator imports
nothing of the client side.
"""

from __future__ import annotations

from .options import EmulatorOptions
from .routes import create_app
from .seed import DEMO_EXPERIMENTS, DEMO_GOAL_ID, DEMO_SITE_CODES, DemoExperiment, seed_state
from .server import EmulatorServer, serve
from .state import EmulatorState

__all__ = [
    "DEMO_EXPERIMENTS",
    "DEMO_GOAL_ID",
    "DEMO_SITE_CODES",
    "DemoExperiment",
    "EmulatorOptions",
    "EmulatorServer",
    "EmulatorState",
    "create_app",
    "seed_state",
    "serve",
]

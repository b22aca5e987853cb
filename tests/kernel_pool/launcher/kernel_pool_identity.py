"""What a kernel must share with a warm server to be forked from it; the key of that server.

Shared by ``ipykernel_launcher.py`` (which picks the server for its identity) and
``../server.py`` (which checks it again before forking).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Environment variables that modules read when imported (so a preloaded module would keep the
#: server's value): the interpreter's, matplotlib's, the BLAS thread pools', the locale.
IMPORT_TIME_PREFIXES = ("PYTHON", "MPL", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_", "LC_")
IMPORT_TIME_NAMES = ("LANG", "LANGUAGE", "VIRTUAL_ENV")
#: What ipykernel sets MPLBACKEND to when it is unset, before anything imports matplotlib.
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"


def import_time_env(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` that modules read at import, as a kernel's modules see it."""
    seen = {
        k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES) or k in IMPORT_TIME_NAMES
    }
    seen.setdefault("MPLBACKEND", KERNEL_MPLBACKEND)
    return seen


def identity(executable: str, path: list[str], env: dict[str, str]) -> dict[str, Any]:
    """The interpreter, ``sys.path`` (less its first entry) and the import-time environment."""
    return {"executable": executable, "path": path, "env": import_time_env(env)}


def key(who: dict[str, Any]) -> str:
    """A short name for the server of identity ``who``: one server per identity."""
    return hashlib.sha256(json.dumps(who, sort_keys=True).encode()).hexdigest()[:16]

"""mkdocs hooks: the docstrings speak numpydoc with Sphinx roles (``:class:`X```), for Jupyter
and Sphinx alike; mkdocstrings renders the role's target as code and leaves the role's name in
front of it. Drop the name, keep the code."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|attr|mod|exc|obj):(?=<code)")


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub("", html)

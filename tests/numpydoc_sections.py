"""Reading numpydoc docstrings in the docstring tests: sections by header, documented names."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^(\w[\w ]*)\n-+$", re.MULTILINE)


def sections(doc: str) -> dict[str, str]:
    """numpydoc sections by header; the summary is under ''."""
    parts = _HEADER.split(doc)
    return {"": parts[0]} | dict(zip(parts[1::2], parts[2::2], strict=True))


def documented(block: str) -> list[str]:
    """The names a Parameters (or Attributes) section documents: ``start, end : ...`` is two."""
    names = []
    for line in block.splitlines():
        if line and not line[0].isspace():
            names += [n.strip() for n in line.split(" : ")[0].split(",")]
    return names

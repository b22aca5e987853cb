"""``python -m kameleoon_pandas.emulator [flags]``: the same as ``kameleoon-pandas serve``."""

from __future__ import annotations

import sys

from .args import main

if __name__ == "__main__":
    sys.exit(main())

"""Where each row must be pushed from: the rows a push relates to one another share a partition.

The pandas writers look at the whole frame at once for three things, and a Dask push is only
as good as a pandas push of the same rows if every partition holds all the rows that matter
to each other:

- without ``key=``, a row's nonce includes its rank among the rows identical to it in every
  column: two identical rows in two partitions would both get rank 0, the same nonce, and the
  Data API would store one of them (silent data loss);
- with ``key=``, rows of one kind sharing a key are all refused (which one is right is not
  guessed): in two partitions, both would be sent under one nonce and one silently dropped;
- the rows of one custom data event (a feed's value rows) are put back together into one event.

:func:`routes` gives each row a 64-bit *route* such that all those related rows get the same
one; the push shuffles on it (``ddf.shuffle(on=routes)``) before any partition is pushed. The
route hashes values the way the nonces do (``frames/encode/nonces.py``: ``101`` and ``101.0``
are one value, ``"101"`` another), so "identical" means what the encoder means:

- with ``key=``: the key columns' values (identical rows, rows sharing a key and the rows of
  one custom data event, which share their key, all agree on them);
- without: the visitor (``visitor_code`` and ``mapping_value``, after renames) for visit
  events, the ``ean`` for product events (identical rows and custom data events agree on it);
- maps: the key as the writer reads it (an integral ``101.0`` is the key ``"101"``), since rows
  sharing a key are all refused.

Forgetting needs none of this: it is idempotent, and a code forgotten from two partitions is
forgotten.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from ..frames import bytecols
from ..frames.encode import _Problems, check_identifiers
from ..frames.encode.nonces import key_hashes, text_hashes, value_hashes

__all__ = ["Verb", "key_labels", "routes"]

Verb = Literal["push_events", "push_product_events", "push_maps", "forget_visitors"]

#: The route of a row whose routing value is missing (such a row is refused anyway).
_NO_VALUE = np.uint64(0x5BE0CD19137E2179)


def key_labels(key: Hashable | Sequence[Hashable] | None) -> tuple[Hashable, ...]:
    """``key=`` as a tuple of column labels, as the writers read it (a list or tuple is many)."""
    if key is None:
        return ()
    return tuple(key) if isinstance(key, list | tuple) else (key,)


def _source(part: pd.DataFrame, name: str, columns: Mapping[str, str]) -> Hashable | None:
    """The frame's column holding schema ``name`` (after the ``**columns`` renames), or None."""
    source = columns.get(name, name)
    return source if source in part.columns else None


def routes(
    part: pd.DataFrame,
    verb: Verb,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    columns: Mapping[str, str] | None = None,
) -> pd.Series:
    """Each row's route (``uint64``, on ``part``'s index); see the module docstring.

    ``key`` and ``columns`` are the push's ``key=`` and ``**columns``; for ``push_maps``,
    ``key`` is the key column.
    """
    columns = columns or {}
    n = len(part)
    if verb == "push_maps":
        assert isinstance(key, str | int) or key is not None
        h = _map_key_hashes(part[key])
    elif verb in ("push_events", "push_product_events"):
        labels = key_labels(key)
        if labels:
            h = key_hashes(part, labels)
        else:
            names = ("visitor_code", "mapping_value") if verb == "push_events" else ("ean",)
            h = np.zeros(n, dtype=np.uint64)
            for name in names:
                source = _source(part, name, columns)
                if source is not None:
                    h = h * bytecols.GOLD + value_hashes(part[source])
            h = bytecols.mix(h)
    else:
        raise ValueError(f"{verb} is not routed")  # pragma: no cover - the callers know
    return pd.Series(h, index=part.index, dtype=np.uint64)


def _map_key_hashes(series: pd.Series) -> np.ndarray:
    """Hashes of the map keys as :func:`~kameleoon_pandas.frames.encode.map_records` reads them."""
    texts, present = check_identifiers(series, "key", _Problems())
    out = np.full(len(series), _NO_VALUE, dtype=np.uint64)
    idx = np.flatnonzero(present)
    if idx.size:
        out[idx] = text_hashes(texts[idx].tolist())
    return out

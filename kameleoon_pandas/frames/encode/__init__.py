"""DataFrame -> wire lines: validation, nonces and size-bounded bodies (pure, vectorised).

Nothing here does I/O. The writers (``kameleoon_pandas.writers``) feed a frame to a ``*Plan``,
iterate its :class:`Batch` es and post their bodies.

The modules, each importing only those above it:

- :mod:`.kinds`: the event kinds and their fields (:class:`FieldSpec`, :class:`KindSpec`).
- :mod:`.problems`: invalid cells, collected and reported (``index, column, reason``).
- :mod:`.values`: one value checked against the contract and put in its canonical form.
- :mod:`.utf8`: text columns read once as UTF-8 bytes (lone surrogates found, not raised on).
- :mod:`.nonces`: the nonce of an event, from ``key=`` or the row's content and rank.
- :mod:`.lines`: slots (a field's bytes for a slice) and their assembly into line matrices.
- :mod:`.fields`: column conversion, distinct values, one field read, checked and encoded.
- :mod:`.plans`: :class:`EventPlan` and :class:`Batch`, the planners, chunking, custom data,
  the columns no event sends.
- :mod:`.records`: forget bodies, identifier checks, map records.

How a line is built (data-api.md 3.2 and 3.4)
    ``eventType=conversion&visitorCode=..&goalId=..&revenue=..&negative=..&nonce=..`` (parameter
    order is free). Every field becomes a *byte column* (:mod:`..bytecols`): an ``(m, w)`` uint8
    matrix, one NUL-padded value per row. Strings: one ``str.join`` of the slice's values, its
    bytes percent-encoded in numpy only when some byte needs it, laid into the matrix. Numbers
    in a numeric column: written by digit lookup tables (``repr`` for floats, whole numbers
    for integers; floats that need more than 4 decimals go through their distinct values and
    ``repr``). Booleans, enumerations and numbers held as text: through their distinct values
    (``pd.factorize`` once per plan, each checked and rendered once). The nonce: 16 hex digits
    by lookup. A slice's columns and constants go side by side into one byte matrix (a record
    per line), and a body is a run of its rows with the NUL bytes deleted (``bytes.replace``):
    no Python code runs per row. Percent-encoding leaves only ASCII, so a line's length in
    characters is its length in bytes, which is what the size limits count.

Nonces [chosen]
    16 upper-case hex digits of a 64-bit hash of the site code, the kind and either the
    ``key=`` columns' values or every cell of the row (by column name) and the row's rank among
    rows identical in every column; never the row's position or index label. Values hash by
    value (``101`` and ``101.0`` alike, texts by their UTF-8 bytes), so a re-export read again
    gives the same nonces. The exact definition is :mod:`.nonces`'s docstring. A ``nonce``
    column (16 hex digits) wins. Duplicate index labels are therefore fine; the report names
    rows by label, so with duplicates a label may stand for several rows.

What the server refuses, the encoder refuses [chosen]
    Every field is held to the contract (data-api.md 3.2, 3.4; :mod:`.fields` lists the rules):
    a value the strict emulator would refuse makes its row invalid before anything is sent,
    and one bad row never spoils a body.

Custom data [chosen]
    A visitor feed gives one row per value of ``valuesCountMap``. Rows of one event are put back
    together by (visitor or mapping value, ``custom_data_index``, ``overwrite``,
    ``mapping_identifier``, ``nonce``, ``visit`` / ``time`` and the ``key=`` columns when the
    frame has them; by value, as the nonces hash them): one line per group, counts of a repeated
    value summed. Without a ``time`` column, every row of a visitor and index is one event. The
    event's nonce comes from all its rows (or their shared key).

Order [chosen]
    Events go in frame order, or by ``time`` (stable, missing times last) when the frame has a
    ``time`` column, so a feed pushed back keeps each visitor's chronology within a body. The
    server stamps events at receipt; bodies posted concurrently may be stored in any order.
"""

from __future__ import annotations

from ..._contract import EVENT_BODY_LIMIT, MAX_ID_LENGTH, SMALL_BODY_LIMIT
from .kinds import BROWSERS as BROWSERS
from .kinds import DEVICES as DEVICES
from .kinds import OSES as OSES
from .kinds import PRODUCT_KINDS, VISIT_KINDS, FieldSpec, KindSpec
from .nonces import _GOLD as _GOLD
from .nonces import _seed as _seed
from .plans import SITE_CODE_HINT as SITE_CODE_HINT
from .plans import SLICE_ROWS as SLICE_ROWS
from .plans import Batch, EventPlan, describe_unsent, plan_product_events, plan_visit_events
from .problems import _Problems as _Problems
from .problems import empty_invalid as empty_invalid
from .records import check_identifiers, chunk_codes, map_records

__all__ = [
    "EVENT_BODY_LIMIT",
    "MAX_ID_LENGTH",
    "PRODUCT_KINDS",
    "SMALL_BODY_LIMIT",
    "VISIT_KINDS",
    "Batch",
    "EventPlan",
    "FieldSpec",
    "KindSpec",
    "check_identifiers",
    "chunk_codes",
    "describe_unsent",
    "map_records",
    "plan_product_events",
    "plan_visit_events",
]

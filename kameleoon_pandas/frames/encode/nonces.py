"""The hashing behind nonces: the per-plan seed, the index labels, the absent field.

A nonce is ``mix(h)`` of ``h = mix(mix(label) ^ seed)`` folded with each field's value hash
(``h = h * GOLD + value_hash``, :data:`_ABSENT` for a field left out); the folding happens where
the line is assembled (:mod:`.plans`), the value hashes where each field is encoded
(:mod:`.fields`, :mod:`.lines`). The arithmetic itself is :mod:`..bytecols`'s.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

from .. import bytecols

_GOLD = bytecols.GOLD
_mix = bytecols.mix
_NONCE_RE = re.compile(r"[0-9A-Fa-f]{16}")
#: The hash of an absent field (no parameter on the line).
_ABSENT = np.uint64(0x6A09E667F3BCC908)


def _seed(site_code: str, kind: str) -> np.uint64:
    digest = hashlib.blake2b(f"{site_code}\x1f{kind}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def _hash_labels(index: pd.Index) -> np.ndarray:
    """One uint64 per index label: integers by value, anything else by its text."""
    if isinstance(index, pd.MultiIndex):
        h = np.zeros(len(index), dtype=np.uint64)
        for level in range(index.nlevels):
            h = _mix(h * _GOLD + _hash_labels(index.get_level_values(level)))
        return h
    if pd.api.types.is_integer_dtype(index.dtype) and not index.hasnans:
        return _mix(index.to_numpy(dtype=np.int64).view(np.uint64))
    if isinstance(index, pd.DatetimeIndex) and not index.hasnans:
        stamps = index.as_unit("ns").asi8
        return _mix(stamps.view(np.uint64) ^ np.uint64(0xD1B54A32D192ED03))
    values = index.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return bytecols.hash_texts(values.tolist())
    # anything else by its repr, so that 1, 1.0 and "1" stay apart
    return bytecols.hash_texts([repr(v) for v in values.tolist()])

"""The fast path of ``POST /visit/events`` line bodies: whole-body patterns, no per-line Python.

A client encodes its lines the same way every time: the same parameters in the same order per
event kind, only the values change. Such a line *shape* (``eventType=page&visitorCode=..&href=
..&title=..&nonce=..``) becomes one regular expression that checks every value of the line
against its field's type, written so that it accepts only lines that :func:`.wire.
parse_visit_event` accepts too (a subset, never more): 16 hexadecimal digits for the nonce, a
visitor code of 1 to 100 characters without ``%`` or ``+`` (so it is its own decoding),
integers of at most 18 digits (inside 64 bits), plain decimals (finite), ``true``/``false``,
the device types, the browser and OS indices. Texts need no check (any text is one). JSON
parameters (``valuesCountMap``, ``metadata``, ``referrersIndices``) are matched as any value,
then each distinct value of the body is decoded and checked by the validator itself.

Shapes are learned from lines the validator accepted (the slow path, :mod:`.wire`), at most
:data:`MAX_SHAPES` per process. A body is taken by the fast path only when *every* line matches
a known shape and every JSON value checks; anything else (a bad line, an unknown shape, a
mapping value, ``\\r``, an empty line in the middle) goes through the validator line by line,
which stays the reference. ``tests/emulator/test_shapes.py`` checks both paths agree.

What it saves: on a 2.5 MiB body the validator spends a few microseconds per line in Python;
here one ``findall`` over the body matches every line in C, and three more pull out the
visitor codes, nonces and event types, the columns a stored row needs (the line itself is
stored as received).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from . import wire

__all__ = ["MAX_SHAPES", "FastLines", "learn_visit_lines", "match_visit_lines", "reset"]

#: The most line shapes learned per process (then new shapes stay on the slow path).
MAX_SHAPES = 64
_JSON_CACHE_SIZE = 4096

_ANY = r"[^&\n]*"
_SOME = r"[^&\n]+"
_NONCE = r"[0-9A-Fa-f]{16}"
_PLAIN_IDENTIFIER = rf"[^&\n%+]{{1,{wire.MAX_IDENTIFIER}}}"
# Each a subset of what the converter accepts (so a match is always valid).
_TYPED: dict[Callable[[Any], Any], str] = {
    wire.to_int: r"-?[0-9]{1,18}",  # 18 digits: inside the signed 64-bit range
    wire.to_float: r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?",  # finite
    wire.to_bool: r"(?:true|false)",
    wire.to_device: "(?:" + "|".join(wire.DEVICE_TYPES) + ")",
    wire.to_browser_index: f"[0-{len(wire.BROWSERS) - 1}]",
    wire.to_os_index: f"[0-{len(wire.OPERATING_SYSTEMS) - 1}]",
}
_TEXTS = frozenset({wire.to_str, wire.to_upper_str})
# Parameters whose lines always take the slow path: they link visitors (model rules).
_SLOW_NAMES = frozenset({"mappingValue", "mappingIdentifier"})


def _json_fields() -> dict[str, Callable[[Any], Any]]:
    """JSON parameter name -> its converter, for names with one converter in every kind."""
    found: dict[str, set[Callable[[Any], Any]]] = {}
    for fields in wire.VISIT_FIELDS.values():
        for name, (convert, _required) in fields.items():
            if convert in wire.JSON_CONVERTERS:
                found.setdefault(name, set()).add(convert)
    return {name: next(iter(c)) for name, c in found.items() if len(c) == 1}


_JSON_FIELDS = _json_fields()
_JSON_EXTRACT = {name: re.compile("&" + re.escape(name) + "=([^&\n]*)") for name in _JSON_FIELDS}
_NONCES = re.compile("&nonce=(" + _NONCE + ")")
_UPPER_NONCES = re.compile("&nonce=([0-9A-F]{16})")  # as stored: most clients send them so
_VISITORS = re.compile("&visitorCode=([^&\n]*)")
_TYPES = re.compile("&eventType=([^&\n]*)")


class FastLines(NamedTuple):
    """A body every line of which matched a shape: the columns of its rows, in line order."""

    lines: list[str]
    visitor_codes: list[str]
    nonces: list[str]  # upper-cased, as stored
    kinds: list[str]


def _element(name: str, has_value: bool, kind: str, event_type: str) -> str | None:
    """The pattern of one ``name=value`` part in a line of ``kind``, or None (no shape)."""
    fields = wire.VISIT_FIELDS[kind]
    head = re.escape(name)
    if name == "eventType":
        return "eventType=" + re.escape(event_type)
    if name == "nonce":
        return "nonce=" + _NONCE if has_value else None
    if name == "visitorCode":
        return "visitorCode=" + _PLAIN_IDENTIFIER if has_value else None
    if name in _SLOW_NAMES:
        return None
    spec = fields.get(name)
    if spec is None:  # a parameter this kind ignores (userAgent, an extra): any value
        return head + "=" + _ANY if has_value else head
    convert, required = spec
    if not has_value:  # a name without "=": an empty value, which only an optional field takes
        return None if required else head
    if convert in _TEXTS or convert in wire.JSON_CONVERTERS:
        if convert in wire.JSON_CONVERTERS and name not in _JSON_FIELDS:
            return None  # a JSON value the fast path could not check
        return head + "=" + (_SOME if required else _ANY)
    typed = _TYPED.get(convert)
    if typed is None:
        return None  # a converter without a pattern: the slow path decides
    return head + "=" + (typed if required else f"(?:{typed})?")


ShapeKey = tuple[tuple[tuple[str, bool], ...], str]  # ((name, has "="), ...), the event type


def _shape(text: str) -> tuple[ShapeKey, list[str]] | None:
    """``(key, pattern)`` of an accepted line's shape, or None when it cannot have one."""
    if not text or text[0] == "{" or "\r" in text or "\n" in text:
        return None
    parts = [part.partition("=") for part in text.split("&")]
    names = [name for name, _, _ in parts]
    if len(set(names)) != len(names) or not {"eventType", "nonce", "visitorCode"} <= set(names):
        return None
    if any(not name or "%" in name or "+" in name for name in names):
        return None
    event_type = next(value for name, _, value in parts if name == "eventType")
    kind = wire.VISIT_KINDS.get(event_type.lower())
    if kind is None or "%" in event_type or "+" in event_type:
        return None
    key = tuple((name, bool(eq)) for name, eq, _ in parts)
    elements = []
    for name, has_value in key:
        element = _element(name, has_value, kind, event_type)
        if element is None:
            return None
        elements.append(element)
    return (key, event_type), elements


Trie = dict[str | None, "Trie"]  # element -> what may follow; None: a shape ends here


def _alternation(node: Trie) -> str:
    """The pattern of what may follow a trie node (each option after its own ``&``)."""
    options = [
        "" if element is None else "&" + element + _alternation(child)
        for element, child in node.items()
    ]
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"


def _compile(shapes: list[list[str]]) -> re.Pattern[str]:
    """One pattern matching a whole line of any of ``shapes``.

    The shapes share their leading parts (``nonce=..&eventType=``), so they go into a trie first:
    a line is then read once, instead of once per shape until one fits.
    """
    root: Trie = {}
    for elements in shapes:
        node = root
        for element in elements:
            node = node.setdefault(element, {})
        node[None] = {}
    first = [element + _alternation(child) for element, child in root.items() if element]
    return re.compile("(?m)^(?:" + "|".join(first) + ")$")


class _Registry:
    """The learned shapes and their combined pattern (swapped whole, so reads need no lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.keys: set[ShapeKey] = set()
            self.branches: list[list[str]] = []
            self.json_ok: dict[tuple[str, str], bool] = {}
            self.kind_of: dict[str, str] = {}  # eventType as sent -> kind
            self.json_names: set[str] = set()  # the JSON parameters some shape has
            # What a body is matched with, swapped whole: (pattern, kind_of, json_names).
            self.snapshot: tuple[re.Pattern[str], dict[str, str], tuple[str, ...]] | None = None

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return None if self.snapshot is None else self.snapshot[0]

    def learn(self, texts: Iterable[str]) -> int:
        added = 0
        for text in texts:
            pattern = self.pattern
            if len(self.branches) >= MAX_SHAPES:
                break
            if pattern is not None and pattern.fullmatch(text) is not None:
                continue  # a known shape
            found = _shape(text)
            if found is None or found[0] in self.keys:
                continue
            key, branch = found
            with self.lock:
                if key in self.keys or len(self.branches) >= MAX_SHAPES:
                    continue
                self.keys.add(key)
                self.branches.append(branch)
                names, event_type = key
                self.kind_of[event_type] = wire.VISIT_KINDS[event_type.lower()]
                self.json_names |= {name for name, _ in names if name in _JSON_FIELDS}
                self.snapshot = (
                    _compile(self.branches),
                    dict(self.kind_of),
                    tuple(sorted(self.json_names)),
                )
            added += 1
        return added

    def json_valid(self, name: str, raw: str) -> bool:
        """Whether the JSON parameter ``name`` takes the raw (percent-encoded) value."""
        key = (name, raw)
        known = self.json_ok.get(key)
        if known is None:
            try:
                _JSON_FIELDS[name](unquote_plus(raw))
                known = True
            except (ValueError, TypeError, OverflowError):
                known = False
            if len(self.json_ok) >= _JSON_CACHE_SIZE:
                self.json_ok.clear()
            self.json_ok[key] = known
        return known


_registry = _Registry()


def match_visit_lines(text: str) -> FastLines | None:
    """The rows of a line body when every line matches a learned shape, else None.

    None says nothing about validity: the caller then validates line by line.
    """
    registry = _registry
    snapshot = registry.snapshot
    # A "\r" would be kept by the patterns but stripped by the validator: the slow path.
    if snapshot is None or "\r" in text:
        return None
    pattern, kind_of, json_names = snapshot
    if text.endswith("\n"):
        text = text[:-1]  # a trailing empty line is allowed [sure]
    if pattern.match(text) is None:
        return None  # (the first line tells at once when the body is not of known shapes)
    lines = pattern.findall(text)
    count = text.count("\n") + 1  # an empty line matches no shape: then fewer lines match
    if len(lines) != count:
        return None
    # Every line matched whole, so each has exactly one nonce, visitorCode and eventType part:
    # with a "&" before every line's first part, one findall per column gives them in order.
    amp = "&" + text.replace("\n", "\n&")
    nonces = _UPPER_NONCES.findall(amp)
    if len(nonces) != count:
        nonces = list(map(str.upper, _NONCES.findall(amp)))
    visitors = _VISITORS.findall(amp)
    types = _TYPES.findall(amp)
    if not len(nonces) == len(visitors) == len(types) == count:  # pragma: no cover - by design
        return None
    for name in json_names:
        if f"&{name}=" in amp:
            for raw in set(_JSON_EXTRACT[name].findall(amp)):
                if raw and not registry.json_valid(name, raw):
                    return None  # the slow path names the line and the reason
    return FastLines(lines, visitors, nonces, list(map(kind_of.__getitem__, types)))


def learn_visit_lines(texts: Iterable[str]) -> int:
    """Learn the shapes of lines the validator accepted; return how many shapes are new."""
    return _registry.learn(texts)


def reset() -> None:
    """Forget every learned shape (tests)."""
    _registry.reset()

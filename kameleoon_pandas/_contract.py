"""The Data API contract's numbers and tables (``data-api.md``), in one leaf module.

Both the client (key lists, identifiers, TTLs, feed flags) and ``frames`` (body limits, feed
shaping) read these; this module imports nothing, so neither side has to import the other for a
constant. The emulator keeps its own copies on purpose: it is an independent check of the
encoder and the client, and a shared constant would hide a disagreement between them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFAULT_TTL_HOURS",
    "EVENT_BODY_LIMIT",
    "FEED_KINDS",
    "INT64_MAX",
    "INT64_MIN",
    "KIND_FLAGS",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_KEYS_PER_CALL",
    "MAX_PREVIOUS_VISITS",
    "MAX_TTL_HOURS",
    "SMALL_BODY_LIMIT",
]

#: Identifiers (visitor codes, mapping values, EANs, map keys) are at most 100 characters (§1).
MAX_ID_LENGTH: Final = 100
#: Typed integers (ids, counts, quantities) are signed 64-bit: what the server and its storage
#: hold [chosen, data-api.md section 1: a number outside 64 bits is a 400].
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
#: JSON values (a JSON parameter such as ``metadata``, a map field) nest at most this many levels
#: of arrays and objects: a value inside 64 levels is fine, a 65th level is refused [chosen, §1].
MAX_JSON_DEPTH: Final = 64
#: The most keys (EANs, map keys) one call may carry (§3.5-3.7).
MAX_KEYS_PER_CALL: Final = 100
#: ``maxNumberPreviousVisits`` is 1..25 (§3.1).
MAX_PREVIOUS_VISITS: Final = 25
#: A map lives ``ttlHours`` after its last write: 2208 (92 days) by default, at most 8784 (§3.7).
DEFAULT_TTL_HOURS: Final = 2208
MAX_TTL_HOURS: Final = 8784
#: Event bodies stay under 2.5 MiB, as the official SDKs split them (§1; the limit is 3 MB).
EVENT_BODY_LIMIT: Final = int(2.5 * 1024 * 1024)
#: Forget and map bodies stay under 1 MB, with a margin for the JSON and line overhead (§1).
SMALL_BODY_LIMIT: Final = 1_000_000 - 4_096

#: Feed kinds (the ``kind`` column) -> the key of their events in a visit of the feed (§3.1).
FEED_KINDS: Final = MappingProxyType(
    {
        "page": "pageEvents",
        "conversion": "conversionEvents",
        "custom_data": "customDataEvents",
        "experiment": "experimentEvents",
        "personalization": "personalizationEvents",
        "geolocation": "geolocationEvents",
        "static_data": "staticDataEvent",  # one object per visit, not a list
    }
)

#: Feed kinds -> the ``GET /visit/visitor`` query flag that asks for them (§3.1).
KIND_FLAGS: Final = MappingProxyType(
    {
        "page": "page",
        "conversion": "conversion",
        "custom_data": "customData",
        "experiment": "experiment",
        "personalization": "personalization",
        "geolocation": "geolocation",
        "static_data": "staticData",
    }
)

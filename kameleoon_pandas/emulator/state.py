"""The emulator's state: SQLite, one connection, every call serialised by a lock.

A file path persists across restarts; ``":memory:"`` lives as long as the object. The server's
event loop and a test thread may both touch the state, hence the lock (SQLite work here is short,
so holding it briefly on the loop thread is cheaper than a thread hop per request).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sites (site_code TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visit_events (
    site_code TEXT NOT NULL, visitor_code TEXT NOT NULL, nonce TEXT NOT NULL,
    time INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (site_code, visitor_code, nonce)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mappings (
    site_code TEXT NOT NULL, mapping_value TEXT NOT NULL, visitor_code TEXT NOT NULL,
    PRIMARY KEY (site_code, mapping_value, visitor_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS product_events (
    site_code TEXT NOT NULL, ean TEXT NOT NULL, nonce TEXT NOT NULL, time INTEGER NOT NULL,
    views INTEGER NOT NULL, atc INTEGER NOT NULL, bought INTEGER NOT NULL,
    PRIMARY KEY (site_code, ean, nonce)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS product_data (
    site_code TEXT NOT NULL, ean TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (site_code, ean)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS maps (
    site_code TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (site_code, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, site_code TEXT NOT NULL, path TEXT NOT NULL, line INTEGER NOT NULL,
    reason TEXT NOT NULL, field TEXT, text TEXT NOT NULL, time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

VisitRow = tuple[str, str, str, int, int, str, str]  # site, visitor, nonce, time, seq, kind, data
ProductRow = tuple[str, str, str, int, int, int, int]  # site, ean, nonce, time, views, atc, bought
EventRow = tuple[str, int, int, str, str]  # visitor, time, seq, kind, data (as read back)


#: How many of the last user agents the state keeps (:attr:`EmulatorState.user_agents`).
USER_AGENTS_KEPT = 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class EmulatorState:
    """Everything the emulator stores: visit events, mappings, products, maps, rejected lines.

    Tokens live in memory only (a restart invalidates them, and clients refresh on 401). Safe to
    use from several threads (a test thread beside the server's loop). The rules over this data
    (visits, feeds, map merges) are in :class:`~.model.EmulatorModel`.

    Parameters
    ----------
    db : str or Path, default ":memory:"
        ``":memory:"`` (lives as long as the object, for tests) or an SQLite file path (WAL
        mode; the data is kept across restarts).

    Attributes
    ----------
    db : str
        The database, as given.
    clock : callable
        Seconds since the epoch, for token lifetimes; a test may swap in a frozen clock.

    Examples
    --------
    >>> from kameleoon_pandas.emulator import EmulatorState, seed_state
    >>> state = EmulatorState(":memory:")
    >>> seed_state(state, "demo")
    ['demosite01', 'demosite02']
    >>> len(state.identifiers("demosite01")["eans"])
    200
    >>> state.close()
    """

    def __init__(self, db: str | Path = ":memory:") -> None:
        self.db = str(db)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.db, check_same_thread=False, isolation_level=None)
        # 16 KiB pages (a new file only; an existing one keeps its own): a body of 2.5 MiB
        # inserts about a fifth faster than with the 4 KiB default.
        self._conn.execute("PRAGMA page_size=16384")
        if self.db != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        # A 64 MiB page cache (allocated as used): big bodies insert into cached pages.
        self._conn.execute("PRAGMA cache_size=-65536")
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT MAX(seq) FROM visit_events").fetchone()
        self._seq = (row[0] or 0) + 1
        self._tokens: dict[str, float] = {}  # token -> expiry, in ``clock()`` seconds
        #: Seconds since the epoch, for token lifetimes (a test may swap in a frozen clock).
        self.clock: Callable[[], float] = time.time
        self._closed = False
        self._user_agents: deque[str] = deque(maxlen=USER_AGENTS_KEPT)

    def __repr__(self) -> str:
        return f"EmulatorState({self.db!r})"

    def close(self) -> None:
        """Close the database; calling it again does nothing."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    # -- helpers ---------------------------------------------------------------------------------

    def next_seq(self, count: int) -> int:
        """Reserve ``count`` insertion sequence numbers; return the first (orders equal times)."""
        with self._lock:
            first = self._seq
            self._seq += count
            return first

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN`` .. ``COMMIT``, under the lock; ``ROLLBACK`` on error."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _touch_site(self, site_code: str) -> None:
        self._conn.execute("INSERT OR IGNORE INTO sites VALUES (?)", (site_code,))

    def site_codes(self) -> list[str]:
        """Every site code that holds data, sorted."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT site_code FROM sites ORDER BY 1")]

    def identifiers(
        self, site_code: str, *, visitors: int = 2000, keys: int = 100
    ) -> dict[str, list[str]]:
        """What is stored for a site, for demos and tests (the Data API has no listing call).

        Parameters
        ----------
        site_code : str
            The site.
        visitors : int, default 2000
            At most this many visitor codes, the most recently active first.
        keys : int, default 100
            At most this many map keys and mapping values each (sorted).

        Returns
        -------
        dict of str to list of str
            ``"eans"`` (every EAN with stored attributes, sorted), ``"visitor_codes"``,
            ``"map_keys"`` and ``"mapping_values"``.

        Examples
        --------
        >>> ids = srv.state.identifiers("demosite01", visitors=10)  # doctest: +SKIP
        >>> read_visitor_feeds(ids["visitor_codes"])  # doctest: +SKIP
        """
        queries = {
            "eans": ("SELECT ean FROM product_data WHERE site_code = ? ORDER BY ean", ()),
            "visitor_codes": (
                "SELECT visitor_code FROM visit_events WHERE site_code = ? "
                "GROUP BY visitor_code ORDER BY MAX(time) DESC, visitor_code LIMIT ?",
                (visitors,),
            ),
            "map_keys": ("SELECT key FROM maps WHERE site_code = ? ORDER BY key LIMIT ?", (keys,)),
            "mapping_values": (
                "SELECT DISTINCT mapping_value FROM mappings WHERE site_code = ? "
                "ORDER BY mapping_value LIMIT ?",
                (keys,),
            ),
        }
        with self._lock:
            return {
                name: [row[0] for row in self._conn.execute(sql, (site_code, *args))]
                for name, (sql, args) in queries.items()
            }

    def get_meta(self, name: str) -> str | None:
        """A stored note (``"seed:demo"``: the seed of the demo data set), or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        """Store a note under ``name`` (kept in the database)."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    # -- tokens ----------------------------------------------------------------------------------

    def issue_token(self, ttl: float, value: str | None = None) -> str:
        """Create a bearer token valid for ``ttl`` seconds from now (by :attr:`clock`).

        Parameters
        ----------
        ttl : float
            Lifetime in seconds.
        value : str, optional
            Register this token instead of a random one (a test's known token).

        Returns
        -------
        str
            The token, for an ``Authorization: Bearer <token>`` header.
        """
        token = value or secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + ttl
        return token

    def record_user_agent(self, user_agent: str) -> None:
        """Keep the ``User-Agent`` of a request (the last :data:`USER_AGENTS_KEPT` are kept)."""
        self._user_agents.append(user_agent)  # atomic: no lock on the request path

    @property
    def user_agents(self) -> list[str]:
        """The ``User-Agent`` headers of the last requests (at most 1,000), oldest first.

        In memory only, like tokens. Requests without the header are not counted.

        Examples
        --------
        >>> srv.state.user_agents[-1]  # doctest: +SKIP
        'kameleoon-pandas/0.1.0'
        """
        return list(self._user_agents.copy())  # copy() runs in C under the GIL: a snapshot

    def clear_user_agents(self) -> None:
        """Forget the user agents seen so far."""
        self._user_agents.clear()

    def token_status(self, token: str) -> str:
        """Whether a bearer token is ``"valid"``, ``"expired"`` or ``"unknown"`` (to this state)."""
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            return "unknown"
        return "valid" if self.clock() < expiry else "expired"

    # -- visits ----------------------------------------------------------------------------------

    def insert_visit_events(
        self, site_code: str, rows: Sequence[VisitRow], links: Sequence[tuple[str, str, str]] = ()
    ) -> None:
        """Store events in one transaction; a known ``(site, visitor, nonce)`` is dropped."""
        with self._transaction() as conn:
            self._touch_site(site_code)
            conn.executemany("INSERT OR IGNORE INTO visit_events VALUES (?,?,?,?,?,?,?)", rows)
            if links:
                conn.executemany("INSERT OR IGNORE INTO mappings VALUES (?,?,?)", links)

    def linked_visitors(self, site_code: str, mapping_value: str) -> list[str]:
        """Visitor codes linked to a mapping value by ``customData`` with ``mappingIdentifier``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT visitor_code FROM mappings WHERE site_code = ? AND mapping_value = ?",
                (site_code, mapping_value),
            ).fetchall()
        return [r[0] for r in rows]

    def visitor_events(self, site_code: str, visitor_codes: Sequence[str]) -> list[EventRow]:
        """``(visitor_code, time, seq, kind, data)`` of those visitors, oldest first.

        ``data`` is the event as stored: a line as received, or a JSON object's text.
        """
        with self._lock:
            out: list[EventRow] = []
            for code in visitor_codes:
                out.extend(
                    self._conn.execute(
                        "SELECT visitor_code, time, seq, kind, data FROM visit_events"
                        " WHERE site_code = ? AND visitor_code = ?",
                        (site_code, code),
                    ).fetchall()
                )
        out.sort(key=lambda r: (r[1], r[2]))
        return out

    def forget(self, site_code: str, visitor_codes: Sequence[str]) -> None:
        """Delete every event and mapping link of those visitors in that site."""
        with self._transaction() as conn:
            for chunk in _chunks(list(visitor_codes)):
                marks = ",".join("?" * len(chunk))
                params = (site_code, *chunk)
                conn.execute(
                    f"DELETE FROM visit_events WHERE site_code = ? AND visitor_code IN ({marks})",
                    params,
                )
                conn.execute(
                    f"DELETE FROM mappings WHERE site_code = ? AND visitor_code IN ({marks})",
                    params,
                )
                conn.execute(
                    f"DELETE FROM mappings WHERE site_code = ? AND mapping_value IN ({marks})",
                    params,
                )

    # -- products --------------------------------------------------------------------------------

    def insert_product_events(
        self, site_code: str, rows: Sequence[ProductRow], attributes: Sequence[dict | None]
    ) -> None:
        """Store product events in one transaction, merging ``productPage`` attributes.

        ``attributes[i]`` belongs to ``rows[i]`` (None for other events). A known
        ``(site, ean, nonce)`` is dropped, and so are its attributes: a retry changes nothing.
        """
        with self._transaction() as conn:
            self._touch_site(site_code)
            plain = [row for row, attrs in zip(rows, attributes, strict=True) if not attrs]
            conn.executemany("INSERT OR IGNORE INTO product_events VALUES (?,?,?,?,?,?,?)", plain)
            merged: dict[str, dict[str, Any]] = {}
            for row, attrs in zip(rows, attributes, strict=True):
                if not attrs:
                    continue
                before = conn.total_changes
                conn.execute("INSERT OR IGNORE INTO product_events VALUES (?,?,?,?,?,?,?)", row)
                if conn.total_changes == before:
                    continue  # a duplicate nonce
                ean = row[1]
                if ean not in merged:
                    found = conn.execute(
                        "SELECT data FROM product_data WHERE site_code = ? AND ean = ?",
                        (site_code, ean),
                    ).fetchone()
                    merged[ean] = json.loads(found[0]) if found else {}
                merged[ean].update(attrs)
            conn.executemany(
                "INSERT OR REPLACE INTO product_data VALUES (?,?,?)",
                [
                    (site_code, ean, json.dumps(data, separators=(",", ":")))
                    for ean, data in merged.items()
                ],
            )

    def product_counters(
        self, site_code: str, eans: Sequence[str], time_begin: int | None, time_end: int | None
    ) -> dict[str, dict[str, int]]:
        """Views, add-to-cart and bought quantities per EAN over ``time_begin <= t < time_end``."""
        lo = -(2**62) if time_begin is None else time_begin
        hi = 2**62 if time_end is None else time_end
        out: dict[str, dict[str, int]] = {}
        where = " FROM product_events WHERE site_code = ? AND ean = ? AND time >= ? AND time < ?"
        with self._lock:
            for ean in eans:
                params = (site_code, ean, lo, hi)
                try:
                    v, atc, bq = self._conn.execute(
                        "SELECT COALESCE(SUM(views),0), COALESCE(SUM(atc),0),"
                        " COALESCE(SUM(bought),0)" + where,
                        params,
                    ).fetchone()
                except sqlite3.OperationalError:
                    # SQLite's SUM stops at 64 bits ("integer overflow"): quantities near the
                    # limit add up exactly in Python instead.
                    rows = self._conn.execute("SELECT views, atc, bought" + where, params)
                    v = atc = bq = 0
                    for views, added, bought in rows:
                        v, atc, bq = v + views, atc + added, bq + bought
                out[ean] = {"v": v, "atcq": atc, "bq": bq}
        return out

    def product_data(self, site_code: str, eans: Sequence[str]) -> dict[str, Any]:
        """Stored attributes per EAN; unknown EANs are left out."""
        out: dict[str, Any] = {}
        with self._lock:
            for ean in eans:
                row = self._conn.execute(
                    "SELECT data FROM product_data WHERE site_code = ? AND ean = ?",
                    (site_code, ean),
                ).fetchone()
                if row:
                    out[ean] = json.loads(row[0])
        return out

    # -- maps ------------------------------------------------------------------------------------

    def get_map_json(self, site_code: str, key: str, now: int) -> str | None:
        """The stored JSON text of a key, or None when unknown or expired."""
        with self._lock:
            row = self._conn.execute(
                "SELECT data, expires_at FROM maps WHERE site_code = ? AND key = ?",
                (site_code, key),
            ).fetchone()
        if row is None or row[1] <= now:
            return None
        return row[0]

    def merge_maps(
        self, site_code: str, updates: dict[str, dict[str, Any]], ttl_ms: int, now: int
    ) -> None:
        """Merge fields into stored maps: ``None`` deletes a field, ``{}`` deletes the key."""
        expires = now + ttl_ms
        with self._transaction() as conn:
            self._touch_site(site_code)
            for key, fields in updates.items():
                if not fields:
                    conn.execute(
                        "DELETE FROM maps WHERE site_code = ? AND key = ?", (site_code, key)
                    )
                    continue
                row = conn.execute(
                    "SELECT data, expires_at FROM maps WHERE site_code = ? AND key = ?",
                    (site_code, key),
                ).fetchone()
                stored = json.loads(row[0]) if row and row[1] > now else {}
                for name, value in fields.items():
                    if value is None:
                        stored.pop(name, None)
                    else:
                        stored[name] = value
                if stored:
                    conn.execute(
                        "INSERT OR REPLACE INTO maps VALUES (?,?,?,?)",
                        (site_code, key, json.dumps(stored, separators=(",", ":")), expires),
                    )
                else:
                    conn.execute(
                        "DELETE FROM maps WHERE site_code = ? AND key = ?", (site_code, key)
                    )

    # -- rejected lines --------------------------------------------------------------------------

    def record_rejected(self, rows: Sequence[tuple[str, str, int, str, str | None, str]]) -> None:
        """Keep refused lines: ``(site_code, path, line, reason, field, text)``."""
        if not rows:
            return
        stamp = now_ms()
        with self._lock:
            self._conn.executemany(
                "INSERT INTO rejected (site_code, path, line, reason, field, text, time)"
                " VALUES (?,?,?,?,?,?,?)",
                [(*row[:5], row[5][:500], stamp) for row in rows],
            )

    def rejected_lines(self, site_code: str | None = None) -> list[dict[str, Any]]:
        """The event lines refused (dropped, or answered 400 in strict mode), oldest first.

        Parameters
        ----------
        site_code : str, optional
            Only this site's; all sites' without.

        Returns
        -------
        list of dict
            One per line: ``site_code``, ``path`` (``/visit/events`` or ``/product/events``),
            ``line`` (1-based line or array position), ``reason``, ``field`` (or None), ``text``
            (the line, at most 500 characters) and ``time`` (ms since the epoch).

        Examples
        --------
        >>> srv.state.rejected_lines("demosite01")[0]["field"]  # doctest: +SKIP
        'goalId'
        """
        sql = "SELECT site_code, path, line, reason, field, text, time FROM rejected"
        params: tuple = ()
        if site_code is not None:
            sql += " WHERE site_code = ?"
            params = (site_code,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", params).fetchall()
        keys = ("site_code", "path", "line", "reason", "field", "text", "time")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def clear_rejected(self) -> None:
        """Forget every refused line recorded so far."""
        with self._lock:
            self._conn.execute("DELETE FROM rejected")

    # -- bulk access for the seeder --------------------------------------------------------------

    def bulk_write(self, statements: Sequence[tuple[str, Iterable[tuple]]]) -> None:
        """Run several ``executemany`` in one transaction (the demo seeder writes this way)."""
        with self._lock:  # held until _seq is updated too
            with self._transaction() as conn:
                for sql, rows in statements:
                    conn.executemany(sql, rows)
            row = conn.execute("SELECT MAX(seq) FROM visit_events").fetchone()
            self._seq = max(self._seq, (row[0] or 0) + 1)

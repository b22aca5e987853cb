"""The demo data set, written straight into the state (the API cannot set historical times).

Deterministic for a ``random_seed``: the same products, visitors, visits and counts, laid out
over the 28 days before the start of the current UTC hour. Vectorised with numpy: making both
sites' rows takes a few tenths of a second (their rows are picked from small tables of strings,
not formatted one by one); writing them to SQLite is most of a seed's time.

Two experiments have a known truth (``DEMO_EXPERIMENTS``), so a read-out can be checked
against it: on each site, every visitor is exposed to both on their first visit, and whether they
purchase (goal ``DEMO_GOAL_ID``, once, on one of their visits, after that exposure) depends on
their variations only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import repeat
from typing import Any, Final

import numpy as np

from .state import EmulatorState, ProductRow, VisitRow

DEMO_SITE_CODES = ["demosite01", "demosite02"]
DATA_SETS = ("demo",)  # the names seed_state knows
DAYS = 28
HOUR_MS = 3_600_000
N_PRODUCTS = 200
N_VISITORS = 5_000
N_MAPS = 300

_BRANDS = [
    "Nordvik",
    "Lumen",
    "Carrow",
    "Basalt",
    "Ondine",
    "Kestrel",
    "Mira",
    "Tallis",
    "Arbor",
    "Quill",
]
_CATEGORIES = [  # (id, name, parent id or None)
    (1, "Clothing", None), (11, "Shirts", 1), (12, "Jackets", 1), (13, "Shoes", 1),
    (2, "Home", None), (21, "Kitchen", 2), (22, "Lighting", 2),
    (3, "Outdoor", None), (31, "Camping", 3), (32, "Cycling", 3),
]  # fmt: skip
_LEAF = [c for c in _CATEGORIES if c[2] is not None]
_NOUNS = {
    11: ["Oxford Shirt", "Linen Shirt", "Flannel Shirt"],
    12: ["Rain Jacket", "Down Jacket", "Denim Jacket"],
    13: ["Trail Runner", "Leather Boot", "Canvas Sneaker"],
    21: ["Chef Knife", "Cast Iron Pan", "Kettle"],
    22: ["Desk Lamp", "Pendant Light", "Lantern"],
    31: ["Tent", "Sleeping Bag", "Camp Stove"],
    32: ["Helmet", "Bike Light", "Saddle Bag"],
}
_ADJECTIVES = ["Classic", "Light", "Pro", "Everyday", "Heritage", "Urban", "Alpine", "Compact"]
_GEO = [  # (country, region, city, lat, lon, weight)
    ("France", "Ile-de-France", "Paris", 48.8566, 2.3522, 0.30),
    ("France", "Auvergne-Rhone-Alpes", "Lyon", 45.764, 4.8357, 0.10),
    ("Germany", "Berlin", "Berlin", 52.52, 13.405, 0.15),
    ("Germany", "Bavaria", "Munich", 48.1351, 11.582, 0.08),
    ("United Kingdom", "England", "London", 51.5074, -0.1278, 0.14),
    ("Spain", "Madrid", "Madrid", 40.4168, -3.7038, 0.08),
    ("Italy", "Lombardy", "Milan", 45.4642, 9.19, 0.07),
    ("United States", "New York", "New York", 40.7128, -74.006, 0.08),
]
_GOALS = [  # (goal id, probability per visit, has revenue)
    (1001, 0.06, True),  # purchase: drawn per visitor by DEMO_EXPERIMENTS instead
    (1002, 0.04, False),  # newsletter sign-up
    (1003, 0.10, False),  # add to cart
    (1004, 0.02, False),  # account created
    (1005, 0.01, False),  # contact form
]
_EXPERIMENTS = [(501, [5011, 5012]), (502, [5021, 5022, 5023]), (503, [5031, 5032])]
_PERSONALIZATIONS = [(71, 7101), (72, 7201)]


@dataclass(frozen=True)
class DemoExperiment:
    """The true parameters of one experiment of the demo data (the same on both sites).

    Attributes
    ----------
    experiment_id : int
        The experiment.
    name : str
        What it tests, for people.
    variation_ids : tuple of int
        Its variations, the reference (the lowest id) first.
    intended_split : tuple of float
        The share of visitors each variation is meant to get.
    split : tuple of float
        The share the seed actually draws: unlike ``intended_split`` on a deliberate sample
        ratio mismatch.
    goal_id : int
        The goal its effect is on.
    uplifts : tuple of float
        Per variation, the true relative uplift of its visitors' conversion rate on ``goal_id``
        over the reference's (0.0 for the reference, and for every variation of an experiment
        with no effect).
    """

    experiment_id: int
    name: str
    variation_ids: tuple[int, ...]
    intended_split: tuple[float, ...]
    split: tuple[float, ...]
    goal_id: int
    uplifts: tuple[float, ...]

    @property
    def has_srm(self) -> bool:
        """Whether the seed draws another split than the intended one."""
        return self.split != self.intended_split


#: The purchase goal the demo experiments act on (every purchase of the demo data is on it).
DEMO_GOAL_ID: Final = 1001
#: A visitor's chance to purchase (once, within the 28 days) before any variation's effect: the
#: chance is ``DEMO_PURCHASE_RATE`` times ``1 + uplift`` of each of their variations. Revenue per
#: purchase is the same in every variation (log-normal, median about 55), so revenue per visitor
#: has the same true uplift as the conversion rate.
DEMO_PURCHASE_RATE: Final = 0.20
#: The experiments with a known truth, on both demo sites: every visitor with a visit is exposed
#: to each (on their first visit, before any purchase). ``601`` has a true +15% uplift of the
#: purchase rate for its variation 6012, with an equal split; ``602`` has no effect and a
#: deliberate sample ratio mismatch (55/45 drawn where 50/50 is intended).
DEMO_EXPERIMENTS: Final = (
    DemoExperiment(
        experiment_id=601,
        name="One-page checkout",
        variation_ids=(6011, 6012),
        intended_split=(0.5, 0.5),
        split=(0.5, 0.5),
        goal_id=DEMO_GOAL_ID,
        uplifts=(0.0, 0.15),
    ),
    DemoExperiment(
        experiment_id=602,
        name="Free-shipping banner",
        variation_ids=(6021, 6022),
        intended_split=(0.5, 0.5),
        split=(0.55, 0.45),
        goal_id=DEMO_GOAL_ID,
        uplifts=(0.0, 0.0),
    ),
)
# Hourly profile (UTC): quiet nights, a lunch bump and an evening peak; weekends busier.
_DAILY = np.array(
    [0.15, 0.1, 0.08, 0.07, 0.08, 0.15, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9,
     1.0, 0.95, 0.85, 0.8, 0.8, 0.9, 1.1, 1.3, 1.4, 1.2, 0.8, 0.4]
)  # fmt: skip
_WEEKLY = np.array([0.95, 0.9, 0.9, 0.95, 1.05, 1.25, 1.3])  # Monday .. Sunday
_COMPACT = (",", ":")
_HEX_DIGITS = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)

Statement = tuple[str, Sequence[tuple[Any, ...]]]  # SQL run with executemany, and its rows
MappingRow = tuple[str, str, str]  # site, mapping value, visitor
MapRow = tuple[str, str, str, int]  # site, key, data, expires_at


@cache
def _json(*items: tuple[str, Any]) -> str:
    """Compact JSON of an object given as (key, value) pairs; the seed repeats few of them."""
    return json.dumps(dict(items), separators=_COMPACT)


Add = Callable[[np.ndarray, np.ndarray, str, list[str]], None]  # visits, times, kind, data


def seed_state(
    state: EmulatorState, name: str, *, random_seed: int = 0, now_ms: int | None = None
) -> list[str]:
    """Write the named data set straight into the state unless already there.

    The demo data set, for each of its two sites: 200 products with attributes and hourly
    counters, 5,000 visitors with 1 to 10 visits each (pages, conversions, experiments,
    personalizations, geolocation, static and custom data), about 10% of them linked to a CRM id,
    and about 300 maps. Times fall in the 28 days before the start of the hour of ``now_ms``.
    Purchases follow the experiments of ``DEMO_EXPERIMENTS``, whose true effects are known.
    The same ``random_seed`` writes the same data; a different one replaces the sites' data.

    Parameters
    ----------
    state : EmulatorState
        Where to write.
    name : {"demo"}
        The data set.
    random_seed : int, default 0
        The seed of the random generator (a non-negative integer).
    now_ms : int, optional
        The reference time in ms since the epoch; now by default.

    Returns
    -------
    list of str
        The data set's site codes, ``["demosite01", "demosite02"]``.

    Raises
    ------
    ValueError
        For an unknown ``name``, or a ``random_seed`` that is no integer >= 0.

    Examples
    --------
    >>> from kameleoon_pandas.emulator import EmulatorState, seed_state
    >>> state = EmulatorState(":memory:")
    >>> seed_state(state, "demo", random_seed=1)
    ['demosite01', 'demosite02']
    >>> state.close()
    """
    if name not in DATA_SETS:
        raise ValueError(f"unknown seed {name!r}: the only data set is 'demo'")
    if isinstance(random_seed, bool) or not isinstance(random_seed, int) or random_seed < 0:
        raise ValueError(f"random_seed must be an integer >= 0, got {random_seed!r}")
    marker = f"seed:{name}"
    if state.get_meta(marker) == str(random_seed):
        return list(DEMO_SITE_CODES)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    anchor = (now // HOUR_MS) * HOUR_MS
    statements: list[Statement] = []
    for number, site in enumerate(DEMO_SITE_CODES):
        rng = np.random.default_rng([random_seed, number])
        statements.extend(_site_statements(rng, site, number, anchor))
    clear = [
        (f"DELETE FROM {table} WHERE site_code = ?", [(site,) for site in DEMO_SITE_CODES])
        for table in ("visit_events", "mappings", "product_events", "product_data", "maps")
    ]
    sites = ("INSERT OR IGNORE INTO sites VALUES (?)", [(s,) for s in DEMO_SITE_CODES])
    meta = ("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(marker, str(random_seed))])
    state.bulk_write([*clear, sites, *statements, meta])
    return list(DEMO_SITE_CODES)


def _hour_weights(anchor: int) -> np.ndarray:
    hours = np.arange(anchor - DAYS * 24 * HOUR_MS, anchor, HOUR_MS)
    hour_of_day = (hours // HOUR_MS) % 24
    weekday = ((hours // (24 * HOUR_MS)) + 3) % 7  # 1970-01-01 was a Thursday
    return _DAILY[hour_of_day] * _WEEKLY[weekday]


def _site_statements(
    rng: np.random.Generator, site: str, number: int, anchor: int
) -> list[Statement]:
    start = anchor - DAYS * 24 * HOUR_MS
    weights = _hour_weights(anchor)
    products = _products(rng, site, number)
    statements: list[Statement] = [("INSERT INTO product_data VALUES (?,?,?)", products["rows"])]
    statements.append(
        (
            "INSERT INTO product_events VALUES (?,?,?,?,?,?,?)",
            _product_events(rng, site, products, weights, start),
        )
    )
    visit_rows, mapping_rows, mapped = _visits(rng, site, products, weights, start, anchor)
    statements.append(("INSERT OR IGNORE INTO visit_events VALUES (?,?,?,?,?,?,?)", visit_rows))
    statements.append(("INSERT OR IGNORE INTO mappings VALUES (?,?,?)", mapping_rows))
    statements.append(("INSERT INTO maps VALUES (?,?,?,?)", _maps(rng, site, mapped, anchor)))
    return statements


def _products(rng: np.random.Generator, site: str, number: int) -> dict[str, Any]:
    n = N_PRODUCTS
    eans = [f"40{number + 1}{7_000_000_000 + i * 7919:010d}" for i in range(n)]
    leaf = rng.integers(0, len(_LEAF), n)
    brand = rng.integers(0, len(_BRANDS), n)
    adjective = rng.integers(0, len(_ADJECTIVES), n)
    noun = rng.integers(0, 3, n)
    price = np.round(np.exp(rng.normal(3.6, 0.7, n)), 0) - 0.01
    discounted = rng.random(n) < 0.2
    old_price = np.round(price * rng.uniform(1.1, 1.5, n), 0) - 0.01
    quantity = rng.integers(0, 120, n)
    rating = np.round(rng.uniform(2.8, 5.0, n), 1)
    rows: list[tuple[str, str, str]] = []  # site, ean, attributes
    parents = {c[0]: c for c in _CATEGORIES}
    for i in range(n):
        cat_id, cat_name, parent_id = _LEAF[leaf[i]]
        parent = parents[parent_id]
        attrs: dict[str, Any] = {
            "name": f"{_BRANDS[brand[i]]} {_ADJECTIVES[adjective[i]]} {_NOUNS[cat_id][noun[i]]}",
            "price": float(price[i]),
            "available": bool(quantity[i] > 0),
            "availableQuantity": int(quantity[i]),
            "brand": _BRANDS[brand[i]],
            "sku": f"SKU-{number + 1}{i:04d}",
            "url": f"https://shop{number + 1}.example/p/{eans[i]}",
            "imageURL": f"https://shop{number + 1}.example/img/{eans[i]}.jpg",
            "categories": [
                {"id": parent[0], "name": parent[1], "parent": None},
                {"id": cat_id, "name": cat_name, "parent": parent_id},
            ],
            "rating": float(rating[i]),
        }
        if discounted[i]:
            attrs["oldPrice"] = float(old_price[i])
        rows.append((site, eans[i], json.dumps(attrs, separators=_COMPACT)))
    # A long tail: popularity falls off as a power of a shuffled rank.
    popularity = 1.0 / np.arange(1, n + 1) ** 1.1
    popularity = popularity[rng.permutation(n)]
    return {"eans": eans, "rows": rows, "popularity": popularity / popularity.sum()}


def _product_events(
    rng: np.random.Generator, site: str, products: dict[str, Any], weights: np.ndarray, start: int
) -> list[ProductRow]:
    """Hourly buckets per product: one row holds that hour's views, cart adds and purchases."""
    total_views = 160_000
    expected = total_views * np.outer(products["popularity"], weights / weights.sum())
    views = rng.poisson(expected)
    carts = rng.binomial(views, 0.08)
    bought = rng.binomial(carts, 0.4)
    # Baskets of more than one: quantities slightly above the event counts.
    carts = carts + rng.binomial(carts, 0.15)
    bought = bought + rng.binomial(bought, 0.1)
    p_idx, h_idx = np.nonzero(views + carts + bought)
    times = start + h_idx * HOUR_MS + rng.integers(0, HOUR_MS, len(h_idx))
    # Whole columns picked from small tables, then zipped: no per-row formatting or int().
    eans = np.asarray(products["eans"], dtype=object)
    buckets = np.asarray([f"seed-{h:04d}" for h in range(len(weights))], dtype=object)
    return list(
        zip(
            repeat(site, len(p_idx)),
            eans[p_idx].tolist(),
            buckets[h_idx].tolist(),
            times.tolist(),
            views[p_idx, h_idx].tolist(),
            carts[p_idx, h_idx].tolist(),
            bought[p_idx, h_idx].tolist(),
            strict=True,
        )
    )


def _visits(
    rng: np.random.Generator,
    site: str,
    products: dict[str, Any],
    weights: np.ndarray,
    start: int,
    anchor: int,
) -> tuple[list[VisitRow], list[MappingRow], list[str]]:
    n_vis = N_VISITORS
    codes = [f"{x:016x}" for x in rng.integers(0, 2**63, n_vis).tolist()]
    # 1 to 10 visits per visitor, most visitors come once or twice.
    n_visits = np.minimum(rng.geometric(0.45, n_vis), 10)
    visitor = np.repeat(np.arange(n_vis), n_visits)
    total = len(visitor)
    hour = rng.choice(len(weights), total, p=weights / weights.sum())
    begin = start + hour * HOUR_MS + rng.integers(0, HOUR_MS, total)
    order = np.lexsort((begin, visitor))
    visitor, begin = visitor[order], begin[order]
    first = np.r_[0, np.flatnonzero(np.diff(visitor)) + 1]
    position = np.arange(total) - np.repeat(first, np.diff(np.r_[first, total]))

    n_pages = np.minimum(rng.geometric(0.22, total), 15)
    page_visit = np.repeat(np.arange(total), n_pages)
    gaps = rng.integers(8_000, 150_000, len(page_visit))
    cum = np.cumsum(gaps)
    page_first = np.r_[0, np.cumsum(n_pages)[:-1]]
    page_offset = cum - np.repeat(cum[page_first] - gaps[page_first], n_pages)
    duration = page_offset[np.cumsum(n_pages) - 1] + 10_000
    # Visits of one visitor must be more than 30 minutes apart to stay separate visits.
    for pos in range(1, int(position.max()) + 1):
        idx = np.flatnonzero(position == pos)
        begin[idx] = np.maximum(begin[idx], begin[idx - 1] + duration[idx - 1] + 31 * 60_000)
    keep_visit = begin + duration < anchor - 60_000
    n_visits_kept = np.bincount(visitor[keep_visit], minlength=n_vis)

    rows: list[VisitRow] = []
    nonce_draws = rng.integers(0, 2**63, total * 30)
    visit_codes = np.asarray(codes, dtype=object)[visitor]

    def add(vis: np.ndarray, times: np.ndarray, kind: str, data: list[str]) -> None:
        # Row i of the site takes nonce draw i and sequence number i + 1: whole columns at once
        # (a per-row loop here was most of the seed's time).
        if not len(vis) == len(times) == len(data) or len(rows) + len(data) > len(nonce_draws):
            raise ValueError(f"{kind}: {len(vis)} visits, {len(times)} times, {len(data)} data")
        first, n = len(rows), len(data)
        nonces = _hex16(nonce_draws[first : first + n])
        rows.extend(
            zip(
                repeat(site, n),
                visit_codes[vis].tolist(),
                nonces,
                times.tolist(),
                range(first + 1, first + n + 1),
                repeat(kind, n),
                data,
                strict=True,
            )
        )

    kept = np.flatnonzero(keep_visit)
    kv = visitor[kept]
    # Static data: device, browser and OS stay with a visitor across visits.
    device = rng.choice(3, n_vis, p=[0.45, 0.45, 0.10])
    browser = rng.choice(6, n_vis, p=[0.55, 0.03, 0.10, 0.22, 0.03, 0.07])
    desktop_os = rng.choice([0, 1, 3], n_vis, p=[0.65, 0.28, 0.07])
    mobile_os = rng.choice([2, 4], n_vis, p=[0.45, 0.55])
    os_index = np.where(device == 0, desktop_os, mobile_os)
    version = rng.integers(100, 126, n_vis)
    devices = ("DESKTOP", "PHONE", "TABLET")
    # A visit's JSON is its visitor's profile (the object without its closing brace), then its
    # visit number: one string per visitor and one per position, joined a column at a time.
    profile = np.asarray(
        [
            _json(
                ("deviceType", devices[d]), ("browserIndex", b),
                ("browserVersion", float(ver)), ("osIndex", o),
            )[:-1]
            for d, b, ver, o in zip(
                device.tolist(), browser.tolist(), version.tolist(), os_index.tolist(), strict=True
            )
        ],
        dtype=object,
    )  # fmt: skip
    visit_number = np.asarray(
        [f',"visitNumber":{p + 1}}}' for p in range(int(position.max()) + 1)], dtype=object
    )
    static = (profile[kv] + visit_number[position[kept]]).tolist()
    add(kept, begin[kept] + 100, "staticData", static)

    geo_w = np.array([g[5] for g in _GEO])
    geo = rng.choice(len(_GEO), n_vis, p=geo_w / geo_w.sum())
    geo_json = [
        json.dumps(
            {"country": g[0], "region": g[1], "city": g[2], "latitude": g[3], "longitude": g[4]},
            separators=_COMPACT,
        )
        for g in _GEO
    ]
    add(kept, begin[kept] + 200, "geolocation", _pick(geo_json, geo[kv]))

    # Pages: home, then categories and products drawn by popularity.
    page_keep = keep_visit[page_visit]
    pv = page_visit[page_keep]
    eans = products["eans"]
    product_pick = rng.choice(len(eans), len(pv), p=products["popularity"])
    kind_pick = rng.random(len(pv))
    shop = f"https://shop{DEMO_SITE_CODES.index(site) + 1}.example"
    names = [json.loads(r[2])["name"] for r in products["rows"]]
    first_page = np.r_[True, pv[1:] != pv[:-1]]
    # Every page a view can show, once: home, cart, then a category and a product page per
    # product; each view picks its row (no per-view branching or JSON).
    n_eans = len(eans)
    page_table = np.array(
        [
            _json(("href", f"{shop}/"), ("title", "Home")),
            _json(("href", f"{shop}/cart"), ("title", "Cart")),
        ]
        + [
            _json(
                ("href", f"{shop}/c/{_LEAF[p % len(_LEAF)][0]}"),
                ("title", _LEAF[p % len(_LEAF)][1]),
            )
            for p in range(n_eans)
        ]
        + [_json(("href", f"{shop}/p/{eans[p]}"), ("title", names[p])) for p in range(n_eans)],
        dtype=object,
    )
    page_row = np.where(
        first_page,
        0,
        np.where(
            kind_pick < 0.2,
            2 + product_pick,
            np.where(kind_pick < 0.9, 2 + n_eans + product_pick, 1),
        ),
    )
    pages = page_table[page_row].tolist()
    add(pv, begin[pv] + page_offset[page_keep], "page", pages)
    visit_end = begin + duration

    # Experiments: a visitor keeps one variation per experiment; most visits see one.
    assign = [rng.integers(0, len(vars_), n_vis) for _, vars_ in _EXPERIMENTS]
    exposed = kept[rng.random(len(kept)) < 0.6]
    which = rng.integers(0, len(_EXPERIMENTS), len(exposed))
    # Row w, column j: experiment w seen in its variation j (unused cells stay empty).
    width = max(len(vars_) for _, vars_ in _EXPERIMENTS)
    exp_table = [
        [_json(("id", e), ("variationId", v)) for v in vars_] + [""] * (width - len(vars_))
        for e, vars_ in _EXPERIMENTS
    ]
    arm_of = np.stack(assign)[which, visitor[exposed]]
    exp_json = np.asarray(exp_table, dtype=object)[which, arm_of].tolist()
    add(exposed, begin[exposed] + 1_000, "experiment", exp_json)

    shown = kept[rng.random(len(kept)) < 0.15]
    pers = rng.integers(0, len(_PERSONALIZATIONS), len(shown))
    add(
        shown,
        begin[shown] + 2_000,
        "personalization",
        _pick([json.dumps({"id": p, "variationId": v}) for p, v in _PERSONALIZATIONS], pers),
    )

    # The experiments with a known truth: each visitor is exposed to all of them at the start of
    # their first kept visit; their chance to purchase follows from their variations.
    kv_first = np.r_[True, kv[1:] != kv[:-1]]
    first_index = np.flatnonzero(kv_first)  # positions in ``kept``; a visitor's visits follow
    kept_count = np.diff(np.r_[first_index, len(kept)])
    first_visits = kept[first_index]
    chance = np.full(len(first_visits), DEMO_PURCHASE_RATE)
    for offset, experiment in enumerate(DEMO_EXPERIMENTS):
        arm = rng.choice(len(experiment.variation_ids), len(first_visits), p=experiment.split)
        chance *= 1.0 + np.asarray(experiment.uplifts)[arm]
        add(
            first_visits,
            begin[first_visits] + 1_500 + 100 * offset,
            "experiment",
            _pick(
                [
                    f'{{"id":{experiment.experiment_id},"variationId":{variation}}}'
                    for variation in experiment.variation_ids
                ],
                arm,
            ),
        )
    buyer = np.flatnonzero(rng.random(len(first_visits)) < chance)
    # The purchase falls on any of the buyer's kept visits (at its end: after the exposure).
    which_visit = (rng.random(len(buyer)) * kept_count[buyer]).astype(np.int64)
    bought = kept[first_index[buyer] + which_visit]
    _add_conversions(add, rng, bought, visit_end[bought], DEMO_GOAL_ID, has_revenue=True)

    for goal, probability, has_revenue in _GOALS:
        if goal == DEMO_GOAL_ID:
            continue  # the purchases are the experiments' (above)
        converted = kept[rng.random(len(kept)) < probability]
        _add_conversions(add, rng, converted, visit_end[converted], goal, has_revenue=has_revenue)

    # Custom data: a loyalty tier on some visits; a CRM id linking about 10% of visitors.
    tiered = kept[rng.random(len(kept)) < 0.25]
    tiers = ("bronze", "silver", "gold")
    tier = rng.choice(3, n_vis, p=[0.6, 0.3, 0.1])
    tier_json = [
        json.dumps({"index": 2, "valuesCountMap": {t: 1}, "overwrite": True}, separators=_COMPACT)
        for t in tiers
    ]
    add(
        tiered,
        begin[tiered] + 500,
        "customData",
        _pick(tier_json, tier[visitor[tiered]]),
    )
    has_crm = (rng.random(n_vis) < 0.1) & (n_visits_kept > 0)
    crm_visitors = np.flatnonzero(has_crm)
    crm_ids = [
        f"crm-{number:06d}"
        for number in rng.choice(900_000, len(crm_visitors), replace=False).tolist()
    ]
    # The linking event sits on each such visitor's first kept visit.
    link_visits = first_visits[np.searchsorted(kv[first_index], crm_visitors)]
    add(
        link_visits,
        begin[link_visits] + 300,
        "customData",
        [
            json.dumps(
                {"index": 1, "valuesCountMap": {c: 1}, "overwrite": True}, separators=_COMPACT
            )
            for c in crm_ids
        ],
    )
    mapping_rows = [
        (site, c, codes[int(v)]) for c, v in zip(crm_ids, crm_visitors.tolist(), strict=True)
    ]
    return rows, mapping_rows, crm_ids


def _pick(table: Sequence[str], index: np.ndarray) -> list[str]:
    """``[table[i] for i in index]``, indexed by numpy."""
    picked: list[str] = np.asarray(table, dtype=object)[index].tolist()
    return picked


def _hex16(values: np.ndarray) -> list[str]:
    """``f"{x:016X}"`` of each value (all below 2**64), formatted by numpy rather than per value."""
    octets = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    nibbles = np.empty((len(values), 16), dtype=np.uint8)
    nibbles[:, 0::2] = octets >> 4
    nibbles[:, 1::2] = octets & 0x0F
    text: list[str] = _HEX_DIGITS[nibbles].view("S16").ravel().astype("U16").tolist()
    return text


def _add_conversions(
    add: Add,
    rng: np.random.Generator,
    visits: np.ndarray,
    ends: np.ndarray,
    goal: int,
    *,
    has_revenue: bool,
) -> None:
    """One conversion on ``goal`` near the end of each of ``visits`` (revenue if it has one)."""
    revenue = np.round(np.exp(rng.normal(4.0, 0.6, len(visits))), 2) if has_revenue else None
    # What json.dumps(..., separators=_COMPACT) writes, without its per-call cost.
    amounts = revenue.tolist() if revenue is not None else [0.0] * len(visits)
    data = [f'{{"goalId":{goal},"revenue":{r!r},"negative":false}}' for r in amounts]
    add(visits, ends - 5_000 + goal % 7, "conversion", data)


def _maps(rng: np.random.Generator, site: str, crm_ids: list[str], anchor: int) -> list[MapRow]:
    """Per-CRM-id maps (audiences, lifetime value) plus a few config keys; about 300 in all."""
    keys = crm_ids[: N_MAPS - 3]
    expires = anchor + 2208 * HOUR_MS
    ltv = np.round(np.exp(rng.normal(5.0, 0.9, len(keys))), 2)
    orders = rng.poisson(3, len(keys))
    audience = rng.random((len(keys), 3)) < np.array([0.4, 0.15, 0.3])
    segments = ("new", "regular", "vip")
    rows: list[MapRow] = []
    for i, key in enumerate(keys):
        data: dict[str, Any] = {
            "warehouseAudiences": {str(a): True for a in (801, 802, 803) if audience[i, a - 801]},
            "lifetimeValue": float(ltv[i]),
            "orders": int(orders[i]),
            "segment": segments[min(int(orders[i]) // 3, 2)],
        }
        rows.append((site, key, json.dumps(data, separators=_COMPACT), expires))
    configs: tuple[tuple[str, dict[str, Any]], ...] = (
        ("config:banner", {"text": "Free shipping over 50", "active": True}),
        ("config:thresholds", {"freeShipping": 50, "vipOrders": 6}),
        ("config:audiences", {"801": "High intent", "802": "Churn risk", "803": "Newsletter"}),
    )
    for name, config in configs:
        rows.append((site, name, json.dumps(config, separators=_COMPACT), expires))
    return rows

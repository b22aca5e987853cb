"""Writes the three notebooks of this folder, without outputs: `python notebooks/build_notebooks.py`.

The notebooks are generated so that their source stays reviewable as plain Python and they are
committed clean (no outputs, no execution counts). Edit the cells here, run this script, commit
both. `tests/notebooks/test_notebooks.py` checks that the committed files match this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# The connection cell every notebook starts with.
CONNECT = """\
import os
from contextlib import ExitStack

import pandas as pd

import kameleoon_pandas as kp

# The connection comes from the KAMELEOON_* environment variables. Without them, this notebook
# starts a local emulator with the demo data set, so that it runs anywhere, offline.
resources = ExitStack()
if os.environ.get("KAMELEOON_BASE_URL"):
    emulator = os.environ.get("KAMELEOON_EMULATOR_DB")  # set when that API is an emulator
else:
    srv = resources.enter_context(kp.emulator.serve(seed="demo"))
    os.environ.update(srv.env())
    emulator = srv.state
client = resources.enter_context(kp.Client())
client"""

# Products and visitors: the Data API cannot list them, so they come from the emulator here.
IDENTIFIERS = """\
from kameleoon_pandas.demo import demo_identifiers

site_code = site_code or client.site_code
if eans is None or visitor_codes is None:
    if emulator is None:
        raise RuntimeError(
            "The Data API cannot list products or visitors: set the eans and visitor_codes "
            "parameters (from your catalogue and warehouse), or KAMELEOON_EMULATOR_DB."
        )
    ids = demo_identifiers(emulator, site_code)
    eans = eans or ids["eans"]
    visitor_codes = visitor_codes or ids["visitor_codes"]"""

CLEAN_UP = """\
resources.close()  # closes the client and stops the emulator if this notebook started one"""


def code(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def md(source: str) -> nbformat.NotebookNode:
    return new_markdown_cell(source)


def quickstart() -> nbformat.NotebookNode:
    cells = [
        md(
            "# Quickstart: the Kameleoon Data API in pandas\n\n"
            "Connect, load product counters, product data, visitor feeds and maps as typed "
            "DataFrames, draw a plot, and open an interactive panel. Run it top to bottom: "
            "without `KAMELEOON_*` variables it starts a local emulator with demo data."
        ),
        md("## Connect"),
        code(CONNECT),
        code(
            "site_code = None  # None: the client's default site code\n"
            "eans = None  # None: every product the emulator holds\n"
            "visitor_codes = None  # None: the emulator's most recent visitors",
            "parameters",
        ),
        code(IDENTIFIERS + "\nprint(f'{site_code}: {len(eans)} products, {len(visitor_codes)} "
             "visitors')"),
        md(
            "## Product counters\n\n"
            "Views, add-to-cart and bought quantities per product and time window. `freq='1h'` "
            "splits the last 24 hours into hourly windows, fetched concurrently."
        ),
        code(
            "counters = kp.read_product_counters(eans[:50], freq='1h', site_code=site_code)\n"
            "counters.head()"
        ),
        code(
            "totals = counters.groupby('ean')[['views', 'add_to_cart_quantity', "
            "'bought_quantity']].sum()\n"
            "totals.nlargest(5, 'views')"
        ),
        md("## Product data\n\nOne row per product, one column per attribute."),
        code(
            "products = kp.read_product_data(eans[:10], site_code=site_code)\n"
            "products[['ean', 'name', 'brand', 'price', 'available']]"
        ),
        md(
            "## Visitor feeds\n\n"
            "One row per event, in a long, tidy table: the visit it belongs to (0 is the current "
            "one), the kind of event, its time and its fields."
        ),
        code(
            "feed = kp.read_visitor_feeds(visitor_codes[:20], previous_visits=5, "
            "site_code=site_code)\n"
            "feed['kind'].value_counts()"
        ),
        code("feed[['visitor_code', 'visit', 'kind', 'time', 'href', 'goal_id', 'revenue']].head()"),
        md("## Maps\n\nStored data per key (here: CRM attributes by customer id)."),
        code(
            "keys = demo_identifiers(emulator, site_code)['map_keys'][:10] if emulator else []\n"
            "maps = kp.read_maps(keys, site_code=site_code)\n"
            "maps.head()"
        ),
        md(
            "## A plot\n\n"
            "Every plot takes the frame a loader returned and gives back a matplotlib Axes "
            "(also as `counters.kam.plot_top_products()` and friends)."
        ),
        code(
            "names = products[['ean', 'name']]\n"
            "ax = kp.plots.plot_top_products(counters.merge(names, on='ean', how='left'), n=10)"
        ),
        code("ax = kp.plots.plot_timeline(feed, visitor_codes=feed['visitor_code'].iloc[0])"),
        md(
            "## A panel\n\n"
            "Choose a site code, a window and a metric, then press **Load**: the panel loads "
            "in the background and shows the plot and the table."
        ),
        code("panel = kp.panels.CountersPanel(eans=eans)\npanel"),
        code("kp.panels.VisitorFeedPanel(visitor_code=visitor_codes[0])"),
        md("## Clean up"),
        code(CLEAN_UP),
    ]
    return _notebook(cells)


def product_report() -> nbformat.NotebookNode:
    cells = [
        md(
            "# Product report\n\n"
            "Views, carts and purchases of the products, the funnel between them, their trends, "
            "and conversions per goal, for one site code over the last whole days. Change the "
            "parameters below, or run `kameleoon-pandas demo` to get this report as HTML."
        ),
        code(
            "# Parameters (the cell is tagged `parameters`: papermill or the demo may override it)\n"
            "site_code = None  # None: the client's default site code\n"
            "window_days = 7  # the report covers the last N whole days (UTC), up to today\n"
            "top_n = 10  # products in the top lists\n"
            "eans = None  # None: every product the emulator holds; else a list of EANs\n"
            "visitor_codes = None  # None: the emulator's most recent visitors; else a list",
            "parameters",
        ),
        code(CONNECT + ";"),
        code(
            IDENTIFIERS + "\n\n"
            "from IPython.display import Markdown, display\n\n"
            "end = pd.Timestamp.now(tz='UTC').floor('1D')  # whole days only\n"
            "start = end - pd.Timedelta(days=window_days)\n"
            "period = f\"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC\"\n"
            "display(Markdown(f\"**Site code** `{site_code}` · **period** {period} · \"\n"
            "                 f\"**generated** {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC\"))"
        ),
        md("## Headline numbers"),
        code(
            "hourly = kp.read_product_counters(eans, start=start, end=end, freq='1h',\n"
            "                                  site_code=site_code, progress=False)\n"
            "daily = kp.read_product_counters(eans, start=start, end=end, freq='1D',\n"
            "                                 site_code=site_code, progress=False)\n"
            "feed = kp.read_visitor_feeds(visitor_codes, kinds=['conversion', 'page'],\n"
            "                             site_code=site_code, progress=False)\n"
            "feed = feed[(feed['time'] >= start) & (feed['time'] < end)]\n"
            "conversions = feed[feed['kind'] == 'conversion']\n"
            "sign = conversions['negative'].fillna(False).map({True: -1, False: 1}).astype(int)\n\n"
            "views, carts, bought = (int(hourly[c].sum()) for c in\n"
            "                        ('views', 'add_to_cart_quantity', 'bought_quantity'))\n"
            "headline = pd.DataFrame(\n"
            "    {'value': [\n"
            "        f'{views:,}', f'{carts:,}', f'{bought:,}',\n"
            "        f'{carts / views:.1%}' if views else 'n/a',\n"
            "        f'{bought / carts:.1%}' if carts else 'n/a',\n"
            "        f\"{(hourly.groupby('ean')['views'].sum() > 0).sum():,} of {len(eans):,}\",\n"
            "        f\"{feed['visitor_code'].nunique():,} of {len(visitor_codes):,}\",\n"
            "        f'{int(sign.sum()):,}',\n"
            "        f\"{(conversions['revenue'].fillna(0) * sign).sum():,.2f}\",\n"
            "    ]},\n"
            "    index=pd.Index([\n"
            "        'Product views', 'Added to cart (items)', 'Bought (items)',\n"
            "        'Cart rate (added / views)', 'Purchase rate (bought / added)',\n"
            "        'Products viewed', 'Visitors active (sample)', 'Conversions (sample)',\n"
            "        'Revenue from conversions (sample)',\n"
            "    ], name='measure'),\n"
            ")\n"
            "headline"
        ),
        md(
            "## Top products\n\n"
            "The most viewed and the most bought products over the period, with their catalogue "
            "data."
        ),
        code(
            "import matplotlib.pyplot as plt\n\n"
            "totals = hourly.groupby('ean')[['views', 'add_to_cart_quantity', "
            "'bought_quantity']].sum()\n"
            "leaders = totals.nlargest(top_n, 'views').index.union(\n"
            "    totals.nlargest(top_n, 'bought_quantity').index)\n"
            "catalogue = kp.read_product_data(list(leaders), site_code=site_code, progress=False)\n"
            "named = hourly.merge(catalogue[['ean', 'name']], on='ean', how='left')\n\n"
            "fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout='constrained')\n"
            "kp.plots.plot_top_products(named, metric='views', n=top_n, ax=left)\n"
            "kp.plots.plot_top_products(named, metric='bought_quantity', n=top_n, ax=right)\n"
            "plt.show()"
        ),
        code(
            "table = (totals.loc[totals.nlargest(top_n, 'views').index].reset_index()\n"
            "         .merge(catalogue[['ean', 'name', 'brand', 'price']], on='ean', how='left'))\n"
            "table['cart_rate'] = (table['add_to_cart_quantity'] / table['views']).round(3)\n"
            "table['sales'] = (table['bought_quantity'] * table['price']).round(2)\n"
            "table.rename(columns={'add_to_cart_quantity': 'added', 'bought_quantity': 'bought'})"
        ),
        md(
            "## Funnel\n\n"
            "From a view to the cart to a purchase, over all products. Views count events; the "
            "later steps count items."
        ),
        code("kp.plots.plot_funnel(hourly)\nplt.show()"),
        md(
            "## Trends per hour and per day\n\n"
            "All products per hour, and the five most viewed products per day."
        ),
        code(
            "fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 8), layout='constrained')\n"
            "kp.plots.plot_counters(hourly, metric='views', ax=top)\n"
            "leading = totals.nlargest(5, 'views').index\n"
            "kp.plots.plot_counters(daily[daily['ean'].isin(leading)], metric='views', by='ean',\n"
            "                       ax=bottom)\n"
            "plt.show()"
        ),
        md(
            "## Conversions per goal\n\n"
            "Conversions and revenue per goal and day, from the feeds of the most recently "
            "active visitors (a cancelled conversion counts as minus one)."
        ),
        code("kp.plots.plot_conversions(feed, freq='1D')\nplt.show()"),
        code(
            "per_goal = (conversions.assign(n=sign, revenue=conversions['revenue'].fillna(0) * "
            "sign)\n"
            "            .groupby('goal_id')\n"
            "            .agg(conversions=('n', 'sum'), revenue=('revenue', 'sum'),\n"
            "                 visitors=('visitor_code', 'nunique')))\n"
            "per_goal['revenue_per_conversion'] = (per_goal['revenue'] /\n"
            "                                      per_goal['conversions']).round(2)\n"
            "per_goal.round(2)"
        ),
        code(CLEAN_UP),
    ]
    return _notebook(cells)


def offline_conversions() -> nbformat.NotebookNode:
    cells = [
        md(
            "# Offline conversions: store purchases into Kameleoon\n\n"
            "A point-of-sale export lists purchases made in stores by customers the website "
            "knows. Here we read it, map its columns to conversion events, check it with a dry "
            "run, look at the rows that cannot be sent, push the rest, and verify the result "
            "through the visitor feeds. Pushing is idempotent: running this notebook twice "
            "never counts a purchase twice."
        ),
        code(CONNECT),
        code("GOAL_ID = 901  # the 'store purchase' goal\nsite_code = client.site_code\nsite_code"),
        md("## Read the export"),
        code(
            "purchases = pd.read_csv('data/store_purchases.csv',\n"
            "                        dtype={'order_id': 'string', 'customer_id': 'string',\n"
            "                               'store': 'string', 'amount_eur': 'string'})\n"
            "print(f'{len(purchases)} purchases from {purchases[\"store\"].nunique()} stores')\n"
            "purchases.tail(6)"
        ),
        md(
            "## Map the columns, then a dry run\n\n"
            "Our `customer_id` is the visitor code the website gave these customers, `goal` the "
            "goal id and `amount_eur` the revenue. The event time is the time the Data API "
            "receives it (the API takes no client timestamp), so the purchase date stays in our "
            "own records. A dry run validates and encodes every row without sending anything."
        ),
        code(
            "mapping = dict(visitor_code='customer_id', goal_id='goal', revenue='amount_eur')\n"
            "dry = purchases.kam.push_events('conversion', dry_run=True, site_code=site_code,\n"
            "                                **mapping)\n"
            "dry"
        ),
        md("## The rows that cannot be sent\n\nEach with its column and the reason."),
        code(
            "invalid = dry.invalid\n"
            "invalid"
        ),
        code(
            "bad_rows = purchases.loc[purchases.index.isin(invalid['index'])]\n"
            "bad_rows"
        ),
        md(
            "## Push\n\n"
            "Invalid rows are skipped and reported; every valid row is sent once."
        ),
        code(
            "report = purchases.kam.push_events('conversion', site_code=site_code, **mapping)\n"
            "report.raise_for_failures()\n"
            "report"
        ),
        md(
            "## Verify through the feeds\n\n"
            "Read the conversions of these customers back and compare revenue per customer "
            "with what we sent. Then push the same frame again: nothing is counted twice."
        ),
        code(
            "valid = purchases.drop(index=bad_rows.index)\n"
            "sent = (valid.assign(amount=pd.to_numeric(valid['amount_eur']))\n"
            "        .groupby('customer_id')['amount'].agg(['count', 'sum']))\n\n"
            "def stored_per_customer():\n"
            "    feed = kp.read_visitor_feeds(list(sent.index), kinds=['conversion'],\n"
            "                                 site_code=site_code, progress=False)\n"
            "    mine = feed[feed['goal_id'] == GOAL_ID]\n"
            "    return mine.groupby('visitor_code')['revenue'].agg(['count', 'sum'])\n\n"
            "check = sent.join(stored_per_customer(), rsuffix='_stored')\n"
            "assert (check['count'] == check['count_stored']).all(), check\n"
            "assert ((check['sum'] - check['sum_stored']).abs() < 0.005).all(), check\n"
            "check.round(2)"
        ),
        code(
            "again = purchases.kam.push_events('conversion', site_code=site_code, **mapping)\n"
            "after = sent.join(stored_per_customer(), rsuffix='_stored')\n"
            "assert (after['count'] == after['count_stored']).all(), after\n"
            "print(f'Pushed {again.sent} rows again; stored conversions still '\n"
            "      f'{int(after[\"count_stored\"].sum())} for {len(valid)} purchases.')"
        ),
        code(CLEAN_UP),
    ]
    return _notebook(cells)


def _notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids keep regenerated files byte-identical
    return nb


NOTEBOOKS = {
    "01-quickstart.ipynb": quickstart,
    "02-product-report.ipynb": product_report,
    "03-offline-conversions.ipynb": offline_conversions,
}


def render(name: str) -> str:
    """The exact text of notebook ``name`` as this script writes it."""
    nb = NOTEBOOKS[name]()
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Writes the notebooks of this folder, without outputs: `python notebooks/build_notebooks.py`.

The notebooks are generated so that their source stays reviewable as plain Python and they are
committed clean (no outputs, no execution counts). Edit the cells here, run this script, commit
both; keep the cells' code ruff-clean (`ruff check notebooks/`, `ruff format --check notebooks/`).
`tests/notebooks/test_notebooks.py` checks that the committed files match this script.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# The connection of every notebook but 04 (after its imports: os, kp, `%load_ext kameleoon_pandas`).
# `kameleoon-pandas demo` and the tests run the notebooks with KAMELEOON_* variables (and
# KAMELEOON_EMULATOR_DB) pointing at their emulator; a user opening one gets an emulator of its own.
CONNECT = """
# The Data API the KAMELEOON_* variables name. Without them, `%kam serve` starts a local
# emulator with the demo data in this kernel, so that this notebook runs anywhere, offline.
if os.environ.get("KAMELEOON_BASE_URL"):
    client = kp.Client()
    emulator = os.environ.get("KAMELEOON_EMULATOR_DB")  # set when that API is an emulator
else:
    srv = %kam serve --seed demo
    client, emulator = srv.client(), srv.state
"""

# Products and visitors: the Data API cannot list them; against an emulator they come from its
# database, against a real account from the parameters (demo_identifiers says so when unset).
IDENTIFIERS = """
site_code = site_code or client.site_code
if eans is None or visitor_codes is None:
    ids = demo_identifiers(emulator, site_code)
    eans, visitor_codes = eans or ids["eans"], visitor_codes or ids["visitor_codes"]
"""

# How the reports (02, 05) show tables and amounts: pandas' Styler, human headers given by the
# cell, no index, numbers formatted, text to the left; `currency` is a report parameter.
TABLES = """
COUNT, PERCENT = "{:,.0f}", "{:.1%}"


def money(value):
    return f"{'-' if value < 0 else ''}{currency}{abs(value):,.2f}"


def report_table(frame, formats, text=()):
    # Text to the left, numbers to the right, each header above its column.
    align = [
        {"selector": f"th.col{i}", "props": f"text-align: {'left' if c in text else 'right'}"}
        for i, c in enumerate(frame.columns)
    ]
    return (
        frame.style.hide(axis="index")
        .format(formats, na_rep="–")
        .set_properties(subset=list(text), **{"text-align": "left"})
        .set_table_styles(align)
    )
"""

CLEAN_UP = """
client.close()
if not os.environ.get("KAMELEOON_BASE_URL"):
    %kam serve --stop
"""


def code(*parts: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A code cell from parts, each dedented on its own, separated by a blank line."""
    cell = new_code_cell("\n\n".join(textwrap.dedent(p).strip("\n") for p in parts))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def md(source: str) -> nbformat.NotebookNode:
    return new_markdown_cell(textwrap.dedent(source).strip("\n"))


def quickstart() -> nbformat.NotebookNode:
    return _notebook(
        md("""
            # Quickstart: the Kameleoon Data API in pandas

            Connect, load product counters, product data, visitor feeds and maps as typed
            DataFrames, draw a plot, and open an interactive panel. Run it top to bottom:
            without `KAMELEOON_*` variables it starts a local emulator with demo data.
        """),
        md("""
            ## Connect

            A `kp.Client` holds the connection: `kp.Client()` reads the `KAMELEOON_*`
            variables, `srv.client()` is one for a running emulator. Every call below takes it
            as `client=`; without one, a call uses the session's default client.
        """),
        code(
            """
            import os

            import kameleoon_pandas as kp

            %load_ext kameleoon_pandas
            """,
            CONNECT,
            "client",
        ),
        code(
            """
            site_code = None  # None: the client's default site code
            eans = None  # None: every product the emulator holds
            visitor_codes = None  # None: the emulator's most recent visitors
            """,
            tags=("parameters",),
        ),
        code(
            "from kameleoon_pandas.demo import demo_identifiers",
            IDENTIFIERS,
            'print(f"{site_code}: {len(eans)} products, {len(visitor_codes)} visitors")',
        ),
        md("""
            ## Product counters

            Views, add-to-cart and bought quantities per product and time window. `freq="1h"`
            splits the last 24 hours into whole hours, fetched concurrently.
        """),
        code("""
            counters = kp.read_product_counters(
                eans[:50],
                freq="1h",
                site_code=site_code,
                client=client,
            )
            counters.head()
        """),
        code("""
            metrics = ["views", "add_to_cart_quantity", "bought_quantity"]
            totals = counters.groupby("ean")[metrics].sum()
            totals.nlargest(5, "views")
        """),
        md("## Product data\n\nOne row per product, one column per attribute."),
        code("""
            products = kp.read_product_data(eans[:10], site_code=site_code, client=client)
            products[["ean", "name", "brand", "price", "available"]]
        """),
        md("""
            ## Visitor feeds

            One row per event, in a long, tidy table: the visit it belongs to (0 is the current
            one), the kind of event, its time and its fields.
        """),
        code("""
            feed = kp.read_visitor_feeds(
                visitor_codes[:20], previous_visits=5, site_code=site_code, client=client
            )
            feed["kind"].value_counts()
        """),
        code("""
            feed[["visitor_code", "visit", "kind", "time", "href", "goal_id", "revenue"]].head()
        """),
        md("## Maps\n\nStored data per key (here: CRM attributes by customer id)."),
        code("""
            keys = demo_identifiers(emulator, site_code)["map_keys"][:10] if emulator else []
            maps = kp.read_maps(keys, site_code=site_code, client=client)
            maps.head()
        """),
        md("""
            ## A plot

            Every plot takes the frame a loader returned and gives back a matplotlib Axes; they
            are in `kp.plots` and on the `df.kam` accessor.
        """),
        code("""
            names = products[["ean", "name"]]
            ax = kp.plots.plot_top_products(counters.merge(names, on="ean", how="left"), n=10)
        """),
        code("""
            ax = feed.kam.plot_timeline(visitor_codes=feed["visitor_code"].iloc[0])
        """),
        md("""
            ## A panel

            Choose a site code, a window and a metric, then press **Load**: the panel loads
            in the background and shows the plot and the table.
        """),
        code("""
            panel = kp.panels.CountersPanel(eans=eans, client=client)
            panel
        """),
        code("""
            kp.panels.VisitorFeedPanel(visitor_code=visitor_codes[0], client=client)
        """),
        md("## Clean up\n\nThe panels stop working once their client is closed."),
        code(CLEAN_UP),
    )


def product_report() -> nbformat.NotebookNode:
    return _notebook(
        md("""
            # Product report

            Views, carts and purchases of the products, the funnel between them, their trends,
            and conversions per goal, for one site code over the last whole days (UTC).
        """),
        code(
            """
            # Parameters (tagged `parameters`: papermill or the demo may override them)
            site_code = None  # None: the client's default site code
            window_days = 7  # the report covers the last N whole days (UTC), up to today
            top_n = 10  # products in the top lists
            currency = "€"  # written before amounts (the Data API stores plain numbers)
            eans = None  # None: every product the emulator holds; else a list of EANs
            visitor_codes = None  # None: the emulator's most recent visitors; else a list
            """,
            tags=("parameters",),
        ),
        code(
            """
            import os

            import matplotlib.pyplot as plt
            import pandas as pd
            from IPython.display import Markdown, display

            import kameleoon_pandas as kp
            from kameleoon_pandas.demo import demo_identifiers

            %load_ext kameleoon_pandas
            """,
            CONNECT,
            TABLES,
        ),
        code(
            IDENTIFIERS,
            """
            # Whole days, so that every run of the same day asks the same windows (and a cache,
            # KAMELEOON_CACHE, answers a re-run without asking the API again).
            end = pd.Timestamp.now(tz="UTC").floor("1D")
            start = end - pd.Timedelta(days=window_days)
            last_day = end - pd.Timedelta(days=1)
            now = pd.Timestamp.now(tz="UTC")
            display(
                Markdown(
                    f"**Site code** `{site_code}` · **period** {start:%Y-%m-%d} to "
                    f"{last_day:%Y-%m-%d} (UTC) · **generated** {now:%Y-%m-%d %H:%M} UTC"
                )
            )
            """,
        ),
        md("## Headline numbers"),
        code("""
            common = dict(site_code=site_code, client=client, progress=False)
            hourly = kp.read_product_counters(eans, start=start, end=end, freq="1h", **common)
            daily = kp.read_product_counters(eans, start=start, end=end, freq="1D", **common)
            feed = kp.read_visitor_feeds(visitor_codes, kinds=["conversion", "page"], **common)
            feed = feed[(feed["time"] >= start) & (feed["time"] < end)]
            conversions = feed[feed["kind"] == "conversion"]
            sign = conversions["negative"].fillna(False).map({True: -1, False: 1}).astype(int)
            revenue = (conversions["revenue"].fillna(0) * sign).sum()

            views, carts, bought = (
                int(hourly[c].sum()) for c in ("views", "add_to_cart_quantity", "bought_quantity")
            )
            viewed = (hourly.groupby("ean")["views"].sum() > 0).sum()
            active = feed["visitor_code"].nunique()
            headline = {
                "Product views": f"{views:,}",
                "Added to cart (items)": f"{carts:,}",
                "Bought (items)": f"{bought:,}",
                "Cart rate (added / views)": f"{carts / views:.1%}" if views else "–",
                "Purchase rate (bought / added)": f"{bought / carts:.1%}" if carts else "–",
                "Products viewed": f"{viewed:,} of {len(eans):,}",
                "Visitors active (sample)": f"{active:,} of {len(visitor_codes):,}",
                "Conversions (sample)": f"{int(sign.sum()):,}",
                "Revenue from conversions (sample)": money(revenue),
            }
            display(
                pd.Series(headline)
                .to_frame()
                .style.hide(axis="columns")
                .set_table_styles([{"selector": "th", "props": "text-align: left"}]),
                Markdown(
                    f"*(sample)*: counted from the activity feeds of {len(visitor_codes):,} "
                    "visitors only (by default the most recently active ones), as the Data API "
                    "gives no site-wide totals of visitors or conversions."
                ),
            )
        """),
        md("""
            ## Top products

            The most viewed and the most bought products over the period. Sales are the
            quantity bought at the product's current catalogue price.
        """),
        code("""
            metrics = ["views", "add_to_cart_quantity", "bought_quantity"]
            totals = hourly.groupby("ean")[metrics].sum()
            by_views = totals.nlargest(top_n, "views").index
            trending = totals.nlargest(5, "views").index  # drawn per day below
            leaders = by_views.union(totals.nlargest(top_n, "bought_quantity").index)
            catalogue = kp.read_product_data(list(leaders.union(trending)), **common)
            # A product is shown by its name; by its name and EAN where two share a name.
            names = catalogue.dropna(subset=["name"]).set_index("ean")["name"]
            twice = names.duplicated(keep=False)
            names[twice] = names[twice] + " (" + names.index[twice] + ")"


            def product_names(ean):
                return ean.map(names).fillna(ean)


            named = hourly.merge(catalogue[["ean", "name"]], on="ean", how="left")
            fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
            kp.plots.plot_top_products(named, metric="views", n=top_n, ax=left)
            kp.plots.plot_top_products(named, metric="bought_quantity", n=top_n, ax=right)
            plt.show()
        """),
        code("""
            details = catalogue[["ean", "brand", "price"]]
            table = totals.loc[by_views].reset_index().merge(details, on="ean", how="left")
            seen = table["views"].where(table["views"] > 0)  # no rate without a view
            top_products = pd.DataFrame(
                {
                    "Product": product_names(table["ean"]),
                    "Brand": table["brand"],
                    "EAN": table["ean"],
                    "Price": table["price"],
                    "Views": table["views"],
                    "Added to cart": table["add_to_cart_quantity"],
                    "Bought": table["bought_quantity"],
                    "Cart rate": table["add_to_cart_quantity"] / seen,
                    "Sales": table["bought_quantity"] * table["price"],
                }
            )
            formats = dict.fromkeys(["Views", "Added to cart", "Bought"], COUNT)
            formats |= {"Price": money, "Sales": money, "Cart rate": PERCENT}
            report_table(top_products, formats, text=["Product", "Brand", "EAN"])
        """),
        md("""
            ## Funnel

            From a view to the cart to a purchase, over all products. Views count events; the
            later steps count items.
        """),
        code("""
            kp.plots.plot_funnel(hourly)
            plt.show()
        """),
        md("""
            ## Trends per hour and per day

            All products per hour, and the five most viewed products per day.
        """),
        code("""
            fig, (upper, lower) = plt.subplots(2, 1, figsize=(12, 8), layout="constrained")
            kp.plots.plot_counters(hourly, metric="views", ax=upper)
            leading = daily[daily["ean"].isin(trending)]
            leading = leading.assign(product=product_names(leading["ean"]))
            kp.plots.plot_counters(leading, metric="views", by="product", ax=lower)
            plt.show()
        """),
        md("""
            ## Conversions per goal

            Conversions and revenue per goal and day, from the activity feeds of the same
            sample of visitors (a cancelled conversion counts as minus one). The Data API
            knows goals by their id.
        """),
        code("""
            kp.plots.plot_conversions(feed, freq="1D")
            plt.show()
        """),
        code("""
            signed = conversions.assign(n=sign, revenue=conversions["revenue"].fillna(0) * sign)
            per_goal = signed.groupby("goal_id").agg(
                n=("n", "sum"), revenue=("revenue", "sum"), visitors=("visitor_code", "nunique")
            )
            counted = per_goal["n"].where(per_goal["n"] != 0)  # all cancelled: no average
            goals = pd.DataFrame(
                {
                    "Goal": per_goal.index.astype("string"),
                    "Conversions": per_goal["n"],
                    "Visitors": per_goal["visitors"],
                    "Revenue": per_goal["revenue"],
                    "Revenue per conversion": per_goal["revenue"] / counted,
                }
            )
            formats = {"Conversions": COUNT, "Visitors": COUNT}
            formats |= {"Revenue": money, "Revenue per conversion": money}
            report_table(goals, formats, text=["Goal"])
        """),
        code(CLEAN_UP),
    )


def offline_conversions() -> nbformat.NotebookNode:
    return _notebook(
        md("""
            # Offline conversions: store purchases into Kameleoon

            A point-of-sale export lists purchases made in stores by customers the website
            knows. Here we read it, map its columns to conversion events, check it with a dry
            run, look at the rows that cannot be sent, push the rest, and verify the result
            through the visitor feeds. Pushing is idempotent: running this notebook twice, or
            pushing tomorrow's export that repeats today's orders, never counts a purchase
            twice.
        """),
        code(
            """
            import os

            import pandas as pd

            import kameleoon_pandas as kp
            from kameleoon_pandas.demo import sample_data

            %load_ext kameleoon_pandas
            """,
            CONNECT,
            "client",
        ),
        code("""
            GOAL_ID = 901  # the "store purchase" goal
            site_code = client.site_code
            site_code
        """),
        md("## Read the export"),
        code("""
            purchases = pd.read_csv(
                sample_data("store_purchases.csv"),  # found from any working directory
                dtype={"order_id": "string", "customer_id": "string", "amount_eur": "string"},
            )
            print(f"{len(purchases)} purchases from {purchases['store'].nunique()} stores")
            purchases.tail(6)
        """),
        md("""
            ## Map the columns, then a dry run

            Our `customer_id` is the visitor code the website gave these customers, `goal` the
            goal id and `amount_eur` the revenue. The event time is the time the Data API
            receives it (the API takes no client timestamp), so the purchase date and the store
            stay in our own records: we leave those columns out (pushed along, they would be
            named in a warning). We push with `key="order_id"` because the order id is what
            makes a purchase this purchase: each event's nonce then comes from it alone, so the
            same order in any later export, whatever its row order or other columns, is stored
            once. A dry run validates and encodes every row without sending anything.
        """),
        code("""
            mapping = dict(visitor_code="customer_id", goal_id="goal", revenue="amount_eur")
            events = purchases.drop(columns=["purchased_at", "store"])
            dry = events.kam.push_events(
                "conversion",
                key="order_id",
                dry_run=True,
                client=client,
                **mapping,
            )
            dry
        """),
        md("## The rows that cannot be sent\n\nEach with its column and the reason."),
        code("""
            invalid = dry.invalid
            invalid
        """),
        code("""
            bad_rows = purchases.loc[purchases.index.isin(invalid["index"])]
            bad_rows
        """),
        md("## Push\n\nInvalid rows are skipped and reported; every valid row is sent once."),
        code("""
            report = events.kam.push_events("conversion", key="order_id", client=client, **mapping)
            assert report.failed_rows == 0 and report.sent == len(purchases) - dry.invalid_rows
            report
        """),
        md("""
            ## Verify through the feeds

            Read the conversions of these customers back and compare revenue per customer
            with what we sent. Then push the export again, its rows in another order: nothing is
            counted twice.
        """),
        code("""
            valid = purchases.drop(index=bad_rows.index)
            amounts = valid.assign(amount=pd.to_numeric(valid["amount_eur"]))
            sent = amounts.groupby("customer_id")["amount"].agg(Purchases="count", Amount="sum")


            def compare_with_stored():
                feed = kp.read_visitor_feeds(
                    list(sent.index),
                    kinds=["conversion"],
                    site_code=site_code,
                    progress=False,
                    client=client,
                )
                mine = feed[feed["goal_id"] == GOAL_ID]
                revenue = mine.groupby("visitor_code")["revenue"]
                stored = revenue.agg(Conversions="count", Revenue="sum")
                return sent.join(stored, how="left").rename_axis("Customer")


            check = compare_with_stored()
            assert (check["Purchases"] == check["Conversions"]).all(), check
            assert ((check["Amount"] - check["Revenue"]).abs() < 0.005).all(), check
            check.style.format("€{:,.2f}", subset=["Amount", "Revenue"])
        """),
        code("""
            again = events.iloc[::-1].kam.push_events(
                "conversion",
                key="order_id",
                client=client,
                **mapping,
            )
            after = compare_with_stored()
            assert (after["Purchases"] == after["Conversions"]).all(), after
            stored = int(after["Conversions"].sum())
            print(f"Pushed {again.sent} again: {stored} conversions for {len(valid)} purchases.")
        """),
        code(CLEAN_UP),
    )


def magics() -> nbformat.NotebookNode:
    return _notebook(
        md("""
            # Magics: the Data API with `%kam`

            `%load_ext kameleoon_pandas` adds the `%kam` line magic and the `%%kam` cell magic.
            Each subcommand is a thin shell over one function of `kameleoon_pandas` and returns
            what that function returns (`%kam counters` is `kp.read_product_counters`), so a
            result can be kept with `-o NAME` or `x = %kam ...`, and an error fails the cell.
            `%kam --help` lists the subcommands, `%kam counters --help` describes one.
        """),
        code("""
            import os

            import pandas as pd

            from kameleoon_pandas.demo import demo_identifiers

            %load_ext kameleoon_pandas
        """),
        md("""
            ## Connect

            The connection comes from the `KAMELEOON_*` environment variables. Without them,
            `%kam serve` starts a local emulator with the demo data in this kernel and points the
            session's default client at it.
        """),
        code("""
            if os.environ.get("KAMELEOON_BASE_URL"):
                emulator = os.environ.get("KAMELEOON_EMULATOR_DB")  # set for an emulator
            else:
                srv = %kam serve --seed demo
                emulator = srv.state
        """),
        code("""
            sites = %kam sites
            sites
        """),
        code("""
            # The Data API cannot list products or visitors: here they come from the emulator.
            ids = demo_identifiers(emulator, sites[0])
            eans, visitors, keys = ids["eans"][:20], ids["visitor_codes"][:5], ids["map_keys"][:5]
        """),
        md("""
            ## Reading

            Lists come from a variable (`$eans`), a literal (`a,b,c`) or, with `%%kam`, one per
            line of the cell, as pasted from a spreadsheet (only the first column counts). Times
            are relative (`7d`, `24h`, `90min`, `now`) or ISO dates. `display_rows` caps what a
            cell shows; the frame itself stays whole.
        """),
        code("""
            %config KameleoonMagics.display_rows = 6
        """),
        code("""
            counters = %kam counters $eans --start 7d --freq 1D
        """),
        code("""
            counters.groupby("ean")["bought_quantity"].sum().nlargest(5)
        """),
        code("""
            %%kam products -o products
            4017000000000
            4017000007919\tpasted from a spreadsheet: the first column is the EAN
        """),
        code("""
            %kam feed $visitors --previous 3 --kinds conversion,page -o feed
        """),
        code("""
            %kam maps $keys
        """),
        md("""
            ## Writing

            A DataFrame from a variable, pushed with renames (`goal_id=goal`: the schema's
            `goal_id` is the frame's `goal` column). A dry run validates only; `--check` raises
            unless every row was sent.
        """),
        code("""
            amounts = [19.9, 5.0, 42.0]
            orders = pd.DataFrame({"visitor_code": visitors[:3], "goal": 1001, "amount": amounts})
        """),
        code("""
            %kam push events orders --kind conversion goal_id=goal revenue=amount --dry-run
        """),
        code("""
            %kam push events orders --kind conversion goal_id=goal revenue=amount --check -o report
        """),
        md("## A panel\n\nThe same panels as `kp.panels`, filled in from the line."),
        code("""
            %kam panel counters $eans
        """),
        md("## Clean up"),
        code("""
            if not os.environ.get("KAMELEOON_BASE_URL"):
                %kam serve --stop
        """),
    )


def experiment_readout() -> nbformat.NotebookNode:
    return _notebook(
        md("""
            # Experiment read-out

            How each variation of one experiment did against the reference on one goal: the
            share of exposed visitors who converted, the relative uplift with its confidence
            interval, and a check that the visitors were split as intended.
        """),
        code(
            """
            # Parameters (tagged `parameters`: papermill or the demo may override them)
            site_code = None  # None: the client's default site code
            experiment_id = 601  # the demo data's "One-page checkout" experiment
            goal_id = 1001  # the goal to compare on (purchase in the demo data)
            alpha = 0.05  # intervals at the 1 - alpha level; significant when p < alpha
            currency = "€"  # written before amounts (the Data API stores plain numbers)
            visitor_codes = None  # None: every visitor the emulator holds; else a list
            """,
            tags=("parameters",),
        ),
        code(
            """
            import os
            import warnings

            import matplotlib.pyplot as plt
            import pandas as pd
            from IPython.display import Markdown, display

            import kameleoon_pandas as kp
            from kameleoon_pandas.demo import demo_identifiers
            from kameleoon_pandas.experiments import SRM_THRESHOLD

            %load_ext kameleoon_pandas
            """,
            CONNECT,
            TABLES,
        ),
        code(
            """
            site_code = site_code or client.site_code
            if visitor_codes is None:  # every visitor of the emulator (the API cannot list them)
                ids = demo_identifiers(emulator, site_code, visitors=10**7, keys=0)
                visitor_codes = ids["visitor_codes"]

            with warnings.catch_warnings():
                # A sample ratio mismatch is reported in its own section below.
                warnings.simplefilter("ignore", kp.KameleoonWarning)
                results = kp.read_experiment(
                    visitor_codes,
                    experiment_id,
                    goal_id=goal_id,
                    alpha=alpha,
                    site_code=site_code,
                    progress=False,
                    client=client,
                )
            reference = results.loc[results["uplift"].isna()].iloc[0]
            now = pd.Timestamp.now(tz="UTC")
            display(
                Markdown(
                    f"**Site code** `{site_code}` · **experiment** {experiment_id} · "
                    f"**goal** {goal_id} · **exposed visitors** {results['visitors'].sum():,} · "
                    f"**reference** variation {reference['variation_id']} · "
                    f"**generated** {now:%Y-%m-%d %H:%M} UTC"
                )
            )
            """,
        ),
        md("""
            ## Results per variation

            Visitors count once, from their first exposure; a visitor converted when they
            reached the goal after it. The uplift is relative to the reference's conversion
            rate.
        """),
        code("""
            level = f"{1 - alpha:.0%}"
            intervals = [
                None if pd.isna(low) else f"{low:+.1%} to {high:+.1%}"
                for low, high in zip(results["ci_low"], results["ci_high"], strict=True)
            ]
            table = pd.DataFrame(
                {
                    "Variation": [
                        f"{v} (reference)" if v == reference["variation_id"] else str(v)
                        for v in results["variation_id"]
                    ],
                    "Visitors": results["visitors"],
                    "Converted": results["converted"],
                    "Conversion rate": results["conversion_rate"],
                    "Uplift": results["uplift"],
                    f"{level} interval": intervals,
                    "p-value": results["p_value"],
                    "Chance to beat reference": results["chance_to_beat_reference"],
                    "Revenue": results["revenue"],
                    "Revenue per visitor": results["revenue_per_visitor"],
                }
            )
            formats = {"Visitors": COUNT, "Converted": COUNT, "Conversion rate": PERCENT}
            formats |= {"Uplift": "{:+.1%}", "p-value": "{:.3g}", "Revenue": money}
            formats |= {"Chance to beat reference": PERCENT, "Revenue per visitor": money}
            report_table(table, formats, text=["Variation"])
        """),
        code("""
            lines = []
            for _, row in results.dropna(subset=["uplift"]).iterrows():
                verdict = "significant" if row["p_value"] < alpha else "not significant"
                lines.append(
                    f"- Variation {row['variation_id']}: {row['uplift']:+.1%} conversion rate "
                    f"({level} interval {row['ci_low']:+.1%} to {row['ci_high']:+.1%}, "
                    f"p = {row['p_value']:.3g}): **{verdict}** at {alpha:g}."
                )
            display(Markdown("\\n".join(lines)))
        """),
        md("""
            ## Uplift with its confidence interval

            Each variation's uplift over the reference, with its interval: green when the
            whole interval is above zero, red when below, grey when it holds zero.
        """),
        code("""
            kp.plots.plot_experiment(results)
            plt.show()
        """),
        md("""
            ## Sample ratio check

            Whether the visitors were split between the variations as intended (equally): a
            mismatch means the assignment or the tracking went wrong, and the results above
            cannot be trusted until it is explained.
        """),
        code("""
            srm = results["srm_p_value"].iloc[0]
            shares = ", ".join(
                f"{v}: {n / results['visitors'].sum():.1%}"
                for v, n in zip(results["variation_id"], results["visitors"], strict=True)
            )
            if srm < SRM_THRESHOLD:
                sentence = (
                    f"**Sample ratio mismatch**: the split ({shares}) is not the intended one "
                    f"(chi-square p-value {srm:.2g} < {SRM_THRESHOLD:g}); check the assignment "
                    "before trusting these results."
                )
            else:
                sentence = (
                    f"No sample ratio mismatch: the split ({shares}) is consistent with the "
                    f"intended one (chi-square p-value {srm:.2g})."
                )
            display(Markdown(sentence))
        """),
        code(CLEAN_UP),
    )


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = new_notebook(cells=list(cells))
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
    "04-magics.ipynb": magics,
    "05-experiment-readout.ipynb": experiment_readout,
}


def render(name: str) -> str:
    """The exact text of notebook ``name`` as this script writes it."""
    nb = NOTEBOOKS[name]()
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main() -> int:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``%load_ext kameleoon_pandas``: the ``%kam`` line magic and the ``%%kam`` cell magic.

Every subcommand is a thin shell over one public function of :mod:`kameleoon_pandas`: what it
returns is what that function returns, so the same call works without magics (the function is
named below). Errors raise, so that a notebook executed headless fails on them: an
``IPython.core.error.UsageError`` for what was typed (an unknown subcommand or option, a
missing argument, an unknown variable, a time that is not one), the library's own
:class:`~kameleoon_pandas.KameleoonError` subclasses for the rest (a bad EAN, an API failure).
``%kam --help`` lists the subcommands, ``%kam SUBCOMMAND --help`` describes one.

Reading (each returns the loader's DataFrame)::

    %kam counters $eans --start 7d --end now --freq 1D    # kp.read_product_counters  [--no-align]
    %kam products SKU-1,SKU-2                              # kp.read_product_data
    %kam feed $visitors --previous 3 --kinds conversion,page  # kp.read_visitor_feeds
                                                 # [--no-current] [--by mapping_value]
    %kam maps crm:42,crm:43                                # kp.read_maps

Writing (each returns the :class:`~kameleoon_pandas.PushReport`; ``--dry-run`` only
validates, ``--check`` raises :class:`~kameleoon_pandas.PushError` unless every row went)::

    %kam push events orders --kind conversion --key order_id goal_id=goal   # kp.push_events
    %kam push products sales --kind purchase ean=sku          # kp.push_product_events
    %kam push maps tiers --key-column id --ttl-hours 24       # kp.push_maps
    %kam forget churned --column visitor_code                 # kp.forget_visitors

``NAME=COLUMN`` renames are the writers' ``**columns`` (the schema's ``goal_id`` is the frame's
``goal`` column); ``--key`` (one column, or several comma-separated) is the writers' ``key=``,
passed only when given.

The session::

    %kam serve --seed demo -o srv    # a local emulator (kp.emulator.serve) in this kernel;
                                     # the session's default client now talks to it
    %kam serve --stop                # stop it; the default client is the one before
    %kam sites                       # the default client's site codes (a list)
    %kam panel counters $eans        # kp.panels.CountersPanel (feed: VisitorFeedPanel)
    %kam cache on                    # rebuild the default client with cache=True (off: without)
    %kam cache clear                 # client.cache_clear(); `%kam cache` says on/off and hits

``%kam serve`` takes the emulator's flags (``--require-auth``, ``--latency-ms 50``,
``--fault-rate 0.1``, ``--strict``, ..., as ``kameleoon-pandas serve``), ``--seed-number N``,
``--db PATH`` and ``--port N`` (default: a free one); it prints where it listens, never the
secret, and stops with ``--stop``, ``%unload_ext`` or the kernel.

Lists (EANs, visitor codes, map keys) come from

- a variable: ``$eans``, or a bare name (``eans``) of a variable holding a list, tuple, set,
  Series, Index, 1-d array or DataFrame (one column, or its ``ean`` / ``visitor_code`` /
  ``key`` column);
- a literal: ``SKU-1,SKU-2`` or ``"SKU-1 SKU-2"`` (a bare word that names no list variable is
  a literal too);
- with ``%%kam counters`` (``products``, ``feed``, ``maps``, ``forget``, ``panel``), the cell
  body, one item per line, as pasted from a spreadsheet: blank lines are skipped, each line is
  stripped and of tab-separated columns only the first is kept::

      %%kam counters --start 7d --freq 1D -o counters
      SKU-1
      SKU-2

The DataFrame of ``push`` (and ``forget``) is a variable: ``orders`` or ``$orders``. Any other
option takes ``$name`` too: a text, number or date variable stands for its text
(``--site $site``, ``--start $since``, ``--previous $n``).

Options of every reading and writing subcommand: ``-o NAME`` stores the result in ``NAME`` (it
is returned as well); ``--site CODE`` (default ``KameleoonMagics.site_code``, else the client's);
``--client NAME``, a variable holding the :class:`~kameleoon_pandas.Client` to call through
(default: the session's default client, built from the ``KAMELEOON_*`` environment, or set
by ``%kam serve``); ``--progress`` / ``--no-progress``.

Times (``--start``, ``--end``): ``now``, ``today``, ``yesterday`` (midnight UTC), a span back
from now (``7d``, ``24h``, ``90min``, ``2w``, ``1h30min``, ``3 days ago``), or an ISO date or
date-time (``2026-11-01``, ``2026-11-01T08:00+02:00``; naive ones are UTC).

Configuration, with ``%config`` (or ``c.KameleoonMagics...`` in ``ipython_config.py``)::

    %config KameleoonMagics.site_code = "abc123site"   # default KAMELEOON_SITE_CODE
    %config KameleoonMagics.progress = False            # True / False / None (the library's)
    %config KameleoonMagics.display_rows = 10           # rows shown; the result stays whole

``%unload_ext kameleoon_pandas`` removes the magics (and stops the emulator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._parsing import parse_time
from .magics import KameleoonMagics

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["KameleoonMagics", "load_ipython_extension", "parse_time", "unload_ipython_extension"]

KameleoonMagics.kam.__doc__ = __doc__  # `%kam?` shows the whole reference


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register ``%kam`` / ``%%kam`` (``%load_ext kameleoon_pandas``).

    Parameters
    ----------
    ipython : InteractiveShell
        The shell; its ``%config`` then reaches :class:`KameleoonMagics`.
    """
    magics = KameleoonMagics(ipython)
    ipython.register_magics(magics)
    magics.install_display()


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Remove ``%kam`` / ``%%kam``, stop a ``%kam serve`` emulator (``%unload_ext``).

    Parameters
    ----------
    ipython : InteractiveShell
        The shell the extension was loaded into.
    """
    manager: Any = ipython.magics_manager
    magics = manager.registry.pop(KameleoonMagics.__name__, None)
    for kind in ("line", "cell"):
        manager.magics[kind].pop("kam", None)
    if magics is not None:
        magics.close()
        if magics in ipython.configurables:
            ipython.configurables.remove(magics)

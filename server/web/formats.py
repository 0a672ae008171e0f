"""How the pages write times, durations and figures: in the province's time zone, in the page's language.

The database and the API keep UTC; people read local time (``TIMEZONE``,
UTC+7 by default) with its offset, and "3 minutes ago" rather than a count
of seconds. Registered as Jinja filters by ``server.web.init_app``.
"""

import functools

from babel.numbers import get_decimal_symbol, get_group_symbol
from flask import current_app
from flask_babel import get_locale, ngettext

from server.localtime import local_time

NO_VALUE = "–"


def local(text, seconds=False):
    """A stored UTC time as local time with its offset (``2026-11-27 15:04 (UTC+07:00)``); – for none."""
    return local_time(text, current_app.config["TIMEZONE"], seconds) if text else NO_VALUE


def ago(seconds):
    """How long ago, in the largest whole unit: "40 s ago", "3 minutes ago", "2 hours ago", "5 days ago"."""
    if seconds is None:
        return NO_VALUE
    seconds = int(seconds)
    if seconds < 60:
        return ngettext("%(num)d s ago", "%(num)d s ago", seconds)
    if seconds < 3600:
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", seconds // 60)
    if seconds < 86400:
        return ngettext("%(num)d hour ago", "%(num)d hours ago", seconds // 3600)
    return ngettext("%(num)d day ago", "%(num)d days ago", seconds // 86400)


def percent(value, digits=1):
    """A rate (0–1) as a percentage in the page's language (``94,5%`` in Vietnamese); – for none."""
    if value is None:
        return NO_VALUE
    return _localised(f"{value * 100:,.{digits}f}") + "%"


def number(value):
    """A whole number with the page's grouping (``1.234`` in Vietnamese); – for none."""
    return NO_VALUE if value is None else _localised(f"{int(value):,}")


def _localised(text):
    """Python's ``1,234.5`` with the page language's group and decimal signs.

    Not Babel's ``format_decimal`` for each figure: a ranking of 5,000 people
    writes 40,000 figures, and Babel's pattern parsing took 5 s of a 6 s page.
    """
    group, decimal = _signs(str(get_locale() or "vi"))
    return text.translate({ord(","): group, ord("."): decimal})


@functools.lru_cache(maxsize=8)
def _signs(locale):
    return get_group_symbol(locale), get_decimal_symbol(locale)


def init_app(app):
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["ago"] = ago
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["number"] = number

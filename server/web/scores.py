"""The evaluation pages: the dashboard, the ranking with its funnel plot and files, a person's page, units side by side.

Every figure comes from ``server.manage.scores`` (permission-checked and scoped
to the actor's subtree there); these views pick the period and the unit from
the query string, sort and filter the rows, and shape the charts' data
(``static/charts.js`` draws them from a JSON block: the pages run no inline
script). A rate is never shown without its number of votes and interval.
"""

import datetime as dt
import math
import re
import zoneinfo

import numpy

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from server.auth import current_actor, page_requires
from server.db import get_db
from server.errors import N_, NotFound, invalid
from analysis.scores import wilson
from analysis.trends import funnel
from server.manage import alerts as alert_service
from server.manage import org
from server.manage import scores as score_service
from server.web import exports, page_errors
from server.web.formats import percent

bp = Blueprint("web_scores", __name__)

PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")
# The ranking's sortable columns: query value → the row's key; the first is the default.
SORTS = {"score": "score", "rate": "rate", "n": "n", "code": "code", "name": "name", "unit": "unit_code",
         "grade": "grade_rank", "flags": "open_flags", "flagged": "flagged"}


def current_month():
    zone = zoneinfo.ZoneInfo(current_app.config["TIMEZONE"])
    return dt.datetime.now(zone).strftime("%Y-%m")


def period_arg():
    """The ``period`` of the query string (``2026-10``, ``2026-Q4``, ``2026``), this month by default."""
    period = request.args.get("period", "").strip() or current_month()
    if not PERIOD.match(period):
        raise invalid("period", N_("A period is a month (2026-10), a quarter (2026-Q4) or a year (2026)."))
    return period


def unit_arg():
    return request.args.get("unit", "").strip() or None


def flagged_arg():
    return request.args.get("flagged") in ("1", "on", "true")


def grade_name(code, grades, lang=None):
    """A grade's name in the page's language; "insufficient data" below the minimum of votes."""
    if not code or code == "insufficient":
        return _("Insufficient data")
    lang = lang or str(get_locale() or "vi")
    for grade in grades:
        if grade["code"] == code:
            return grade.get(f"name_{lang}") or grade.get("name_vi") or code
    return code


def _grades(parameters):
    """The grades in force, best first, as dicts (``code``, ``threshold``, ``name_vi``, ``name_en``)."""
    grades = (parameters or {}).get("grades")
    if not grades:
        from analysis.grades import DEFAULT_GRADES

        grades = DEFAULT_GRADES
    return [g if isinstance(g, dict) else {"code": g.code, "threshold": g.threshold, "name_vi": g.name_vi,
                                            "name_en": g.name_en} for g in grades]


def ranked_rows(result, args):
    """The staff rows of ``period_scores``, filtered and sorted as the query string says."""
    grades = _grades(result.get("parameters"))
    order = {g["code"]: i for i, g in enumerate(grades)}
    lang = str(get_locale() or "vi")
    names = {code: grade_name(code, grades, lang) for code in [*order, "insufficient", None]}
    rows = []
    for row in result["staff"]:
        row = dict(row)
        row["grade_rank"] = order.get(row.get("grade"), len(order))
        row["grade_name"] = names.get(row.get("grade")) or grade_name(row.get("grade"), grades, lang)
        rows.append(row)
    text = args.get("q", "").strip().casefold()
    if text:
        rows = [r for r in rows
                if text in f"{r.get('code', '')} {r.get('name', '')} {r.get('unit_code', '')}".casefold()]
    grade = args.get("grade", "")
    if grade:
        rows = [r for r in rows if (r.get("grade") or "insufficient") == grade]
    min_n = args.get("min_n", "")
    if min_n.isdigit():
        rows = [r for r in rows if (r.get("n") or 0) >= int(min_n)]
    sort = args.get("sort") if args.get("sort") in SORTS else "score"
    descending = args.get("dir", "desc" if sort in ("score", "rate", "n", "flags", "flagged") else "asc") == "desc"
    key = SORTS[sort]

    def sort_key(row):
        value = row.get(key)
        # Rows without a value (no votes) go last whichever the direction.
        missing = value is None
        if missing:
            return (1, 0)
        return (0, _negate(value) if descending else value)

    rows.sort(key=sort_key)
    return rows, sort, descending, grades


def _negate(value):
    if isinstance(value, str):
        return [-ord(c) for c in value.casefold()]
    return -value


def funnel_data(rows, total, labels):
    """The funnel plot's points and limits: raw rate against votes, around the subtree's counted rate."""
    points = [r for r in rows if r.get("n") and r.get("rate") is not None]
    center = (total or {}).get("rate")
    if not points or center is None:
        return None
    n_max = max(r["n"] for r in points)
    limits = {k: [round(float(x), 5) for x in v] for k, v in funnel(center, max(n_max, 10)).items()
              if k in ("n", "lower95", "upper95", "lower998", "upper998")}
    # The limits at each person's n, interpolated between the computed sizes (one call for everyone).
    n = numpy.array([r["n"] for r in points], dtype=float)
    rate = numpy.array([r["rate"] for r in points], dtype=float)
    at = {name: numpy.interp(n, limits["n"], limits[name]) for name in ("lower998", "upper998")}
    outside = (rate < at["lower998"]) | (rate > at["upper998"])
    out = [{"x": r["n"], "y": round(r["rate"], 4), "code": r["code"], "label": f"{r['code']} {r['name']}"}
           for r in points]
    for i in numpy.flatnonzero(outside):
        out[i]["outside"] = True
    n_min = min(p["x"] for p in out)
    lowest = [float(rate.min()), float(numpy.interp(n_min, limits["n"], limits["lower998"]))]
    # A log scale once the sizes span two orders of magnitude (5 votes beside 5,000 stay readable).
    log = n_max >= 100 * n_min
    # A point's link is this with its code in place of CODE (one URL, not one per person: the province's
    # ranking has thousands).
    href = url_for("web_scores.staff_page", code="CODE", period=request.args.get("period") or None)
    return {"points": out, "limits": limits, "center": center, "y_min": axis_floor(lowest), "log": log,
            "href": href, "text": labels}


def axis_floor(values):
    """Where a rate axis starts: a tenth below the lowest value shown (0 at the least), so differences show."""
    values = [v for v in values if v is not None]
    return max(0.0, math.floor((min(values) - 0.02) * 10) / 10) if values else 0.0


def funnel_labels():
    return {"x": _("Number of votes (n)"), "y": _("Satisfaction rate"), "inside": _("Staff member"),
            "outside": _("Outside the %(level)s limits", level=percent(0.998)),
            "center": _("Rate of the whole selection"), "l95": _("%(level)s limits", level=percent(0.95, 0)),
            "l998": _("%(level)s limits", level=percent(0.998))}


@bp.get("/dashboard")
@page_requires("scores.read")
def dashboard():
    db, actor = get_db(), current_actor()
    data = score_service.dashboard(db, actor, settings=current_app.config)
    months = [dict(m) for m in data.get("months") or []]
    for m in months:
        m["rate_low"], m["rate_high"] = wilson(m["satisfied"], m["n"]) if m["n"] else (None, None)
    chart = None
    if any(m["n"] for m in months):
        chart = {
            "labels": [m["month"] for m in months], "value": [m["rate"] for m in months],
            "low": [m["rate_low"] for m in months], "high": [m["rate_high"] for m in months],
            "n": [m["n"] for m in months], "y_min": axis_floor([m["rate_low"] for m in months]),
            "text": {"y": _("Satisfaction rate"), "value": _("Satisfaction rate"),
                     "interval": _("%(level)s interval", level=percent(0.95, 0))},
        }
    alerts = alert_service.list_alerts(db, actor, open_only=True, limit=5) if actor.can("alerts.read") else []
    return render_template("score_dashboard.html", data=data, months=months, trend_chart=chart, alerts=alerts,
                           can_admin=actor.is_admin)


@bp.get("/scores")
@page_requires("scores.read")
def ranking():
    db, actor = get_db(), current_actor()
    period, unit = period_arg(), unit_arg()
    result = score_service.period_scores(db, actor, period, unit, include_flagged=flagged_arg(),
                                         settings=current_app.config)
    rows, sort, descending, grades = ranked_rows(result, request.args)
    pages = Pages(len(rows), request.args.get("page"))
    return render_template(
        "score_ranking.html", wide=True, result=result, rows=rows[pages.first:pages.last], pages=pages, sort=sort,
        descending=descending, grades=grades, period=period, unit=unit, flagged=flagged_arg(), units=_units(db, actor),
        funnel=funnel_data(rows, result.get("total"), funnel_labels()), report_url=_report_url(unit, period))


class Pages:
    """The slice of a long ranking one page shows: a province's 5,000 rows in one page weigh 4.5 MB
    and take seconds to render, so the table shows ``PAGE_SIZE`` at a time (the funnel plot and the
    downloads keep every row)."""

    PAGE_SIZE = 100

    def __init__(self, total, page):
        self.total = total
        self.count = max(1, -(-total // self.PAGE_SIZE))
        try:
            self.number = min(max(1, int(page or 1)), self.count)
        except ValueError:
            self.number = 1
        self.first = (self.number - 1) * self.PAGE_SIZE
        self.last = min(total, self.first + self.PAGE_SIZE)


# Interval bounds are 95% ones; the column names say so through "%(level)s" (a literal "95% l"
# reads as a printf placeholder to the catalog tools).
EXPORT_COLUMNS = [
    ("code", N_("Code")), ("name", N_("Full name")), ("unit_code", N_("Unit")), ("n", N_("Votes (n)")),
    ("satisfied", N_("Satisfied")), ("rate", N_("Satisfaction rate")), ("rate_low", N_("Rate, %(level)s low")),
    ("rate_high", N_("Rate, %(level)s high")), ("index", N_("Index (0-100)")), ("score", N_("Score")),
    ("score_low", N_("Score, %(level)s low")), ("score_high", N_("Score, %(level)s high")),
    ("grade_name", N_("Grade")), ("flagged", N_("Flagged votes")), ("excluded", N_("Excluded votes")),
    ("open_flags", N_("Open flags")),
]


@bp.get("/scores/export.<fmt>")
@page_requires("scores.read")
def export(fmt):
    """The ranking as it is filtered and sorted on the page, as CSV or XLSX."""
    if fmt not in ("csv", "xlsx"):
        raise NotFound(N_("Unknown file format."))
    db, actor = get_db(), current_actor()
    period, unit = period_arg(), unit_arg()
    result = score_service.period_scores(db, actor, period, unit, include_flagged=flagged_arg(),
                                         settings=current_app.config)
    rows, _sort, _descending, _grades_ = ranked_rows(result, request.args)
    header = [_(label, level=percent(0.95, 0)) if "%(level)s" in label else _(label) for _key, label in EXPORT_COLUMNS]
    cells = [[_cell(row.get(key)) for key, _label in EXPORT_COLUMNS] for row in rows]
    name = f"scores-{period}" + (f"-{unit}" if unit else "")
    if fmt == "csv":
        body, mimetype = exports.csv_bytes(header, cells), exports.CSV_TYPE
    else:
        body, mimetype = exports.xlsx_bytes(f"{period} {unit or ''}".strip(), header, cells), exports.XLSX_TYPE
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Response(body, content_type=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{safe}.{fmt}"'})


def _cell(value):
    if isinstance(value, float):
        return round(value, 4)
    return value


@bp.get("/scores/staff/<code>")
@page_requires("scores.read")
def staff_page(code):
    db, actor = get_db(), current_actor()
    return render_staff(db, actor, code, period_arg(), own=False)


def render_staff(db, actor, code, period, own, **extra):
    """A person's page: for HR (``own`` False) or for the person themselves (``/me``)."""
    detail = score_service.staff_detail(db, actor, code, period, settings=current_app.config)
    # The best level first, newest scale first, as the tablets show them.
    detail["levels"] = sorted(detail.get("levels") or [], key=lambda lv: (-lv["scale_version"], -lv["rating"]))
    grades = _grades(detail.get("parameters"))
    return render_template("me.html" if own else "score_staff.html", d=detail, period=period, own=own, grades=grades,
                           grade_name=lambda c: grade_name(c, grades), charts=staff_charts(detail),
                           heat=heat_rows(detail.get("heatmap")), **extra)


WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
HEAT_LEVELS = 5


def heat_rows(counts):
    """The weekday × hour table: ``counts[weekday][hour]`` (Monday first) as rows of cells with a shade 0–5.

    Only the hours from the first to the last with a vote (at least 7:00–17:00) are shown, so a
    phone screen is not filled with empty nights; the shade is a CSS class, not an inline style.
    """
    if not counts or not any(any(day) for day in counts):
        return None
    busy = [h for h in range(24) if any(day[h] for day in counts)]
    hours = list(range(min(busy + [7]), max(busy + [17]) + 1))
    top = max(max(day) for day in counts)
    rows = []
    for weekday, day in enumerate(counts):
        cells = [{"hour": h, "n": day[h], "level": -(-HEAT_LEVELS * day[h] // top)} for h in hours]
        rows.append({"name": _(WEEKDAYS[weekday]), "cells": cells})
    return {"hours": hours, "rows": rows}


def staff_charts(detail):
    """The staff page's charts: the levels given and the monthly trend with its interval."""
    lang = str(get_locale() or "vi")
    charts = {}
    levels = detail.get("levels") or []
    if levels:
        charts["levels"] = {
            "labels": [lv.get(f"label_{lang}") or lv.get("label_vi") or str(lv.get("rating")) for lv in levels],
            "values": [lv["counted"] + lv["flagged"] + lv["excluded"] for lv in levels],
            "colors": ["#05603a" if lv.get("satisfied") else "#b42318" for lv in levels],
            "text": {"x": _("Votes")},
        }
    monthly = list(detail.get("series") or [])
    while monthly and not monthly[0].get("n"):
        monthly.pop(0)  # the months before the person's first vote
    if monthly:
        charts["trend"] = {
            "labels": [m["month"] for m in monthly],
            "value": [m.get("score") for m in monthly], "low": [m.get("score_low") for m in monthly],
            "high": [m.get("score_high") for m in monthly], "n": [m.get("n") or 0 for m in monthly],
            "y_min": axis_floor([m.get("score_low") for m in monthly]),
            "text": {"y": _("Score"), "value": _("Score"),
                     "interval": _("%(level)s credible interval", level=percent(0.95, 0))},
        }
    reasons = detail.get("reasons") or []
    if reasons:
        charts["reasons"] = {
            "labels": [r.get(f"label_{lang}") or r.get("label_vi") or r.get("code") for r in reasons],
            "values": [r.get("n", 0) for r in reasons], "text": {"x": _("Votes")},
        }
    return charts


@bp.get("/scores/units")
@page_requires("scores.read")
def units():
    """Units side by side for a period: each unit's rollup (not an average of its people)."""
    db, actor = get_db(), current_actor()
    period, unit = period_arg(), unit_arg()
    result = score_service.period_scores(db, actor, period, unit, include_flagged=flagged_arg(),
                                         settings=current_app.config)
    rows = sorted(result.get("units") or [], key=lambda u: (u.get("rate") is None, -(u.get("rate") or 0)))
    chart = None
    if rows:
        chart = {
            "labels": [u.get("code") for u in rows], "value": [u.get("rate") for u in rows],
            "low": [u.get("rate_low") for u in rows], "high": [u.get("rate_high") for u in rows],
            "n": [u.get("n") or 0 for u in rows], "y_min": axis_floor([u.get("rate_low") for u in rows]),
            "text": {"y": _("Satisfaction rate"), "value": _("Satisfaction rate"),
                     "interval": _("%(level)s interval", level=percent(0.95, 0))},
        }
    return render_template("score_units.html", result=result, rows=rows, period=period, unit=unit,
                           flagged=flagged_arg(), units=_units(db, actor), units_chart=chart,
                           report_url=lambda code: _report_url(code, period))


def _units(db, actor):
    return org.list_units(db, actor) if actor.can("units.read") else []


def _report_url(unit, period):
    """The printable monthly unit report (server/web/reports.py) when it exists, for a month."""
    if "web_reports.unit_month" not in current_app.view_functions or not unit or len(period) != 7:
        return None
    return url_for("web_reports.unit_month", unit=unit, period=period)


page_errors(bp)

"""Scores as HR, managers and auditors read them (their subtree; admin everything), and as a civil
servant reads their own (the ``staff`` role: ``Actor.staff_id`` only).

A closed period is read from its latest frozen revision; an open one is
computed from the daily rollups (``server/scoring/scores.py``). Pass the
app's or the CLI's settings as ``settings`` (the ``SCORE_*`` parameters and
``TIMEZONE``); the built-in defaults are used without it.
"""

import collections
import datetime as dt
import zoneinfo

from analysis.levels import describe_scale
from analysis.scores import wilson
from server.errors import N_
from server.manage import forbid, not_found
from server.scoring import parameters, periods, scores
from server.scoring.days import day_bounds_utc, local_day
from server.settings import DEFAULTS
from server.storage import accounts, evaluation, now_utc, timestamp
from server.storage import org as org_storage
from server.storage import periods as period_storage
from server.storage import rollups as rollup_storage
from server.storage import scales as scale_storage
from server.storage import staff as staff_storage

SERIES_MONTHS = 12


def _settings(settings):
    return settings or DEFAULTS


def _is_self_only(actor):
    """A ``staff``-role account without any role that reads scores: it sees only its own record."""
    return not actor.can("scores.read") and actor.can("self.read") and actor.staff_id is not None


def _require_read(actor):
    if actor.can("scores.read") or (actor.can("self.read") and actor.staff_id is not None):
        return
    raise forbid("scores.read")


def _view(db, actor, unit_code):
    """``(unit row or None, unit ids of the view or None for everything)`` within the actor's scope."""
    scope = actor.scope(db, "scores.read")
    if unit_code:
        unit = org_storage.unit_by_code(db, unit_code)
        if unit is None or (scope is not None and unit["id"] not in scope):
            raise not_found(N_("No unit with this code."))
        return unit, accounts.subtree_ids(db, [unit["id"]])
    if scope is None:
        return None, None
    units = period_storage.units(db)
    roots = [u for u in scope if units.get(u, {}).get("parent_id") not in scope]
    if len(roots) == 1:
        return units[roots[0]], scope
    return None, scope


def period_scores(db, actor, period, unit_code=None, include_flagged=False, settings=None):
    """Scores of a period for a unit subtree (default: the actor's whole scope).

    ``period``: ``"2026-10"``, ``"2026-Q4"`` or ``"2026"``. Returns::

        {"period": {kind, key, first_day, last_day, closed, revision, closed_at, closed_by,
                    closed_unit, revisions: [{revision, created_at, created_by, reason, n_votes}]},
         "unit": {code, name} | None, "include_flagged": bool,
         "staff": [evaluate() row + staff_id, code, name, unit_id, unit_code, unit_name,
                   counted, flagged, excluded, open_flags, other_units],
         "counters": [the same for counters: counter_id, code, name, unit_code, ...],
         "units": [summarize() row + unit_id, code, name, parent_code, depth, staff, counted, flagged,
                   excluded], "total": summarize() row of the view, "votes": {counted, flagged, excluded},
         "parameters": Params.as_dict()}

    ``n`` is the number of votes scored (counted, plus flagged with
    ``include_flagged``). A ``staff``-role actor gets only their own row.
    Raises ``Invalid`` (period), ``NotFound`` (unit), ``Forbidden``.
    """
    _require_read(actor)
    settings = _settings(settings)
    parsed = periods.parse_period(period)
    variant = "with_flagged" if include_flagged else "counted"
    if _is_self_only(actor):
        _check_own_unit(db, actor, parsed, unit_code)
        return _own_scores(db, actor.staff_id, parsed, variant, settings)
    unit, view = _view(db, actor, unit_code)
    closed = periods.covering(db, parsed, unit["id"] if unit else None) if (unit or view is None) else None
    if closed is not None:
        snap = periods.snapshot(db, closed)
        tables = _restrict(snap[variant], view, unit)
        return _answer(parsed, unit, include_flagged, tables, snap["revision"]["parameters"], closed, snap)
    params = parameters.params_from_settings(settings)
    tables = scores.compute(db, parsed, view, params, include_flagged, periods.open_flags(db, parsed, settings["TIMEZONE"]))
    return _answer(parsed, unit, include_flagged, tables, params.as_dict())


def _restrict(tables, view, unit):
    """A frozen snapshot of a larger subtree, cut to the view (its unit's own row is the total)."""
    if view is None:
        return tables
    units = [row for row in tables["units"] if row["unit_id"] in view]
    total = next((row for row in units if unit and row["unit_id"] == unit["id"]), tables["total"])
    return {"staff": [row for row in tables["staff"] if row["unit_id"] in view],
            "counters": [row for row in tables["counters"] if row["unit_id"] in view],
            "units": units, "total": total,
            "votes": {k: total.get(k, 0) for k in scores.STANDINGS} if total is not tables["total"] else tables["votes"]}


def _answer(parsed, unit, include_flagged, tables, parameters_used, closed=None, snap=None):
    period = {**parsed.as_dict(), "closed": closed is not None, "revision": None, "closed_at": None,
              "closed_by": None, "closed_unit": None, "revisions": []}
    if closed is not None:
        period.update(revision=snap["revision"]["revision"], closed_at=closed["closed_at"],
                      closed_by=closed["closed_by"], closed_unit=closed.get("unit_code"),
                      revisions=snap["revisions"])
    return {"period": period, "unit": unit and {"code": unit["code"], "name": unit["name"]},
            "include_flagged": include_flagged, **tables, "parameters": parameters_used}


def _own_scores(db, staff_id, parsed, variant, settings):
    """A civil servant's own row, scored in the subtree of the unit holding most of their votes."""
    unit = _main_unit(db, staff_id, parsed)
    if unit is None:
        return _answer(parsed, None, variant == "with_flagged",
                       {"staff": [], "counters": [], "units": [], "total": None,
                        "votes": dict.fromkeys(scores.STANDINGS, 0)},
                       parameters.params_from_settings(settings).as_dict())
    full = period_scores(db, _Everyone(), parsed.key, unit["code"], variant == "with_flagged", settings)
    full["staff"] = [row for row in full["staff"] if row["staff_id"] == staff_id]
    full.update(counters=[], units=[], total=None, votes={k: sum(r[k] for r in full["staff"]) for k in scores.STANDINGS})
    return full


def _check_own_unit(db, actor, parsed, unit_code):
    """A civil servant may name only the unit their own votes of the period belong to."""
    if unit_code:
        unit = _main_unit(db, actor.staff_id, parsed)
        if unit is None or unit["code"] != unit_code:
            raise not_found(N_("No unit with this code."))


class _Everyone:
    """Reads on behalf of a staff-role actor whose own row needs their unit's colleagues for the prior;
    only that row leaves this module."""

    kind = "cli"
    staff_id = None

    def can(self, permission):
        return permission == "scores.read"

    def scope(self, db, permission):
        return None


def _main_unit(db, staff_id, parsed):
    by_unit = collections.Counter()
    for row in rollup_storage.day_rows(db, parsed.first_day, parsed.last_day, staff_id=staff_id):
        by_unit[row["unit_id"]] += row["n"]
    if not by_unit:
        return None
    unit_id = max(by_unit.items(), key=lambda item: (item[1], -item[0]))[0]
    return period_storage.units(db).get(unit_id)


def _visible_staff(db, actor, staff_code):
    row = staff_storage.detail(db, staff_code)
    if row is None:
        raise not_found(N_("No staff member with this code."))
    if _is_self_only(actor):
        if row["id"] != actor.staff_id:
            raise not_found(N_("No staff member with this code."))
    elif not actor.reaches(db, "scores.read", row["unit_id"]):
        raise not_found(N_("No staff member with this code."))
    return row


def staff_detail(db, actor, staff_code, period, settings=None):
    """One person's page for a period.

    Returns ``{"staff": {code, name, title, unit_code, unit_name, active}, "period": {...},
    "score": period_scores row (counted) or None, "score_with_flagged": row or None,
    "levels": [{scale_version, rating, label_vi, label_en, satisfied, counted, flagged, excluded}],
    "series": [{month, n, satisfied, rate, rate_low, rate_high, score, score_low, score_high, grade}]
    (the 12 months up to the period's end; scores within the person's unit that month),
    "reasons": [{code, label_vi, label_en, n}], "heatmap": 7×24 counts (weekday 0 = Monday, local hours),
    "flags": [flag rows with their review], "grade_history": [{kind, key, revision, frozen_at, grade,
    score, score_low, score_high, n}]}``. Raises ``NotFound``, ``Invalid``, ``Forbidden``.
    """
    _require_read(actor)
    settings = _settings(settings)
    tz = settings["TIMEZONE"]
    person = _visible_staff(db, actor, staff_code)
    parsed = periods.parse_period(period)
    unit = _main_unit(db, person["id"], parsed)
    score = with_flagged = None
    if unit is not None:
        for flagged in (False, True):
            answer = period_scores(db, _Everyone(), parsed.key, unit["code"], flagged, settings)
            row = next((r for r in answer["staff"] if r["staff_id"] == person["id"]), None)
            if flagged:
                with_flagged = row
            else:
                score = row
    all_scales = scores.scales(db)
    levels = collections.defaultdict(collections.Counter)
    for row in rollup_storage.day_rows(db, parsed.first_day, parsed.last_day, staff_id=person["id"]):
        levels[(row["scale_version"], row["rating"])][row["standing"]] += row["n"]
    level_rows = []
    for (version, rating), counts in sorted(levels.items()):
        meta = next((lv for lv in all_scales.get(version, []) if lv["value"] == rating), {})
        info = describe_scale(all_scales[version]).get(rating) if version in all_scales else None
        level_rows.append({"scale_version": version, "rating": rating, "label_vi": meta.get("label_vi"),
                           "label_en": meta.get("label_en"), "satisfied": bool(info and info.satisfied),
                           **{s: counts.get(s, 0) for s in scores.STANDINGS}})
    start, end = day_bounds_utc(parsed.first_day, parsed.last_day, tz)
    reasons = collections.Counter()
    heatmap = [[0] * 24 for _ in range(7)]
    zone = zoneinfo.ZoneInfo(tz)
    for counted_at, version, _rating, codes in evaluation.staff_votes(db, person["id"], start, end):
        reasons.update((version, code) for code in codes)
        moment = dt.datetime.fromisoformat(counted_at.replace("Z", "+00:00"))
        local = moment.astimezone(zone)
        heatmap[local.weekday()][local.hour] += 1
    reason_labels = _reason_labels(db)
    reason_rows = [{"code": code, "label_vi": reason_labels.get((version, code), {}).get("label_vi"),
                    "label_en": reason_labels.get((version, code), {}).get("label_en"), "n": n}
                   for (version, code), n in reasons.most_common()]
    home = period_storage.units(db).get(person["unit_id"], {})
    return {
        "staff": {"code": person["code"], "name": person["full_name"], "title": person["title"],
                  "unit_code": home.get("code"), "unit_name": home.get("name"),
                  "active": bool(person["active"])},
        "period": parsed.as_dict(),
        "score": score,
        "score_with_flagged": with_flagged,
        "levels": level_rows,
        "series": (series := _series(db, person["id"], parsed, settings)),
        "series_trend": series_trend(series),
        "reasons": reason_rows,
        "heatmap": heatmap,
        "flags": evaluation.staff_flags(db, person["id"]),
        "grade_history": evaluation.grade_history(db, person["id"]),
    }


def _reason_labels(db):
    out = {}
    for scale in scale_storage.every_scale(db):
        version = scale["version"]
        for reason in scale["reasons"]:
            out[(version, reason["code"])] = reason
    return out


def _months_until(last_day, count):
    year, month = int(last_day[:4]), int(last_day[5:7])
    keys = []
    for _ in range(count):
        keys.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(keys))


def _series(db, staff_id, parsed, settings):
    """The person's monthly scores up to the period's end, each in the subtree of that month's main unit."""
    out = []
    for key in _months_until(parsed.last_day, SERIES_MONTHS):
        month = periods.parse_period(key)
        unit = _main_unit(db, staff_id, month)
        if unit is None:
            out.append({"month": key, "n": 0, "satisfied": 0, "rate": None, "rate_low": None, "rate_high": None,
                        "score": None, "score_low": None, "score_high": None, "grade": None})
            continue
        answer = period_scores(db, _Everyone(), key, unit["code"], False, settings)
        row = next((r for r in answer["staff"] if r["staff_id"] == staff_id), None)
        out.append({"month": key, **{k: row and row[k] for k in ("n", "satisfied", "rate", "rate_low", "rate_high",
                                                                   "score", "score_low", "score_high", "grade")}})
    return out


def dashboard(db, actor, settings=None):
    """The landing numbers for the actor's subtree.

    ``{"today": local date, "votes_today": {counted, flagged, excluded}, "votes_month": {...},
    "month": {key, n, rate, rate_low, rate_high}, "months": [{month, n, satisfied, rate}] (last 6, oldest
    first), "trend": {"direction": "up"|"down"|"flat", "tau", "p_value"} or None, "open_flags": int,
    "open_alerts": int, "silent_devices": [{id, counter, silent_since, last_seen_at}],
    "rolled_up_to": the rollups' watermark time}``. Counts come from the rollups (a minute behind at most).
    """
    if not actor.can("scores.read"):
        raise forbid("scores.read")
    settings = _settings(settings)
    tz = settings["TIMEZONE"]
    scope = actor.scope(db, "scores.read")
    today = local_day(timestamp(now_utc()), tz)
    month_key = today[:7]
    keys = _months_until(periods.parse_period(month_key).last_day, 6)
    sat = _satisfied_lookup(db)
    per_month = collections.defaultdict(lambda: [0, 0])
    votes_today, votes_month = collections.Counter(), collections.Counter()
    # Whole months from the monthly rollups (kept in the same transactions as the daily ones), today
    # from the daily: the daily rows of six months cost a province's dashboard 1.5 s a view.
    for row in rollup_storage.day_totals(db, today, today, scope):
        votes_today[row["standing"]] += row["n"]
    for row in rollup_storage.month_totals(db, keys[0], keys[-1], scope):
        if row["month"] == month_key:
            votes_month[row["standing"]] += row["n"]
        if row["standing"] == "counted":
            bucket = per_month[row["month"]]
            bucket[0] += row["n"]
            bucket[1] += row["n"] if sat.get((row["scale_version"], row["rating"])) else 0
    months = [{"month": k, "n": per_month[k][0], "satisfied": per_month[k][1],
               "rate": per_month[k][1] / per_month[k][0] if per_month[k][0] else None} for k in keys]
    n, s = per_month[month_key]
    low, high = wilson(s, n)
    return {
        "today": today,
        "votes_today": {k: votes_today.get(k, 0) for k in scores.STANDINGS},
        "votes_month": {k: votes_month.get(k, 0) for k in scores.STANDINGS},
        "month": {"key": month_key, "n": n, "rate": s / n if n else None, "rate_low": low if n else None,
                  "rate_high": high if n else None},
        "months": months,
        "trend": _trend([m["rate"] for m in months]),
        "control": control_limits(months),
        "open_flags": evaluation.open_flags(db, scope),
        "open_alerts": evaluation.open_alerts(db, scope),
        "silent_devices": evaluation.silent_devices(db, scope),
    }


def series_trend(series):
    """Whether a person's monthly raw rate rises or falls: Mann–Kendall (Kendall's tau against time) and
    the Theil–Sen slope with its 95% interval, in rate per month, over the months with votes.

    ``{"months", "tau", "p_value", "direction" ("up"|"down"|"flat"), "slope", "slope_low", "slope_high"}``,
    or None with fewer than 3 months of votes. Both are rank statistics: one odd month moves them little.
    """
    from analysis.trends import mann_kendall, theil_sen

    rates = [m["rate"] if m.get("n") else float("nan") for m in series]
    months = sum(rate == rate for rate in rates)
    if months < 3:
        return None
    tau, p_value = mann_kendall(rates)
    slope, low, high = theil_sen(rates)
    flat = tau != tau or p_value >= 0.05
    return {"months": months, "tau": None if tau != tau else tau, "p_value": p_value,
            "direction": "flat" if flat else ("up" if tau > 0 else "down"),
            "slope": slope, "slope_low": low, "slope_high": high}


def control_limits(months):
    """p-chart limits (3 sigma) for the monthly rates of a subtree, around their pooled rate.

    ``{"center", "months": [{"month", "lower", "upper", "outside"}]}`` (limits None for a month without
    votes), or None without votes. A month outside its limits differs from the others by more than
    chance gives at its number of votes: something changed that month.
    """
    from analysis.trends import p_chart

    if not sum(m["n"] for m in months):
        return None
    center, lower, upper = p_chart([m["satisfied"] for m in months], [m["n"] for m in months])
    rows = []
    for m, low, high in zip(months, lower, upper):
        known = bool(m["n"])
        rows.append({"month": m["month"], "lower": float(low) if known else None,
                     "upper": float(high) if known else None,
                     "outside": known and not float(low) <= m["rate"] <= float(high)})
    return {"center": center, "months": rows}


def _satisfied_lookup(db):
    out = {}
    for version, levels in scores.scales(db).items():
        for rating, info in describe_scale(levels).items():
            out[(version, rating)] = info.satisfied
    return out


def _trend(rates):
    """Mann–Kendall over the monthly rates (months without votes left out, the others keep their place);
    None with fewer than 3 months of votes. ``tau`` is None when the rates do not vary."""
    if sum(rate is not None for rate in rates) < 3:
        return None
    from analysis.trends import mann_kendall

    tau, p_value = mann_kendall([float("nan") if rate is None else rate for rate in rates])
    if tau != tau:  # NaN: every month alike
        return {"direction": "flat", "tau": None, "p_value": 1.0}
    direction = "flat" if p_value >= 0.05 else ("up" if tau > 0 else "down")
    return {"direction": direction, "tau": float(tau), "p_value": float(p_value)}

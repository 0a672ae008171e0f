"""Closing a period (``periods.close``: HR and admin), listing closed periods and reading any revision.

Closing freezes the scores of a month, quarter or year for a unit subtree
(or the whole organisation) as revision 1, with the software version and the
parameters; later changes (late votes, flag reviews) make revisions 2, 3, …
(``server/scoring/periods.py``), and every revision stays readable here.
"""

from server import audit
from server.errors import N_, Conflict, invalid
from server.manage import not_found, require
from server.manage.scores import _answer, _check_own_unit, _is_self_only, _main_unit, _require_read, _restrict, _settings
from server.scoring import parameters, periods, rollups
from server.scoring.days import local_day
from server.storage import now_utc, timestamp, write_transaction
from server.storage import org as org_storage
from server.storage import periods as storage
from server.storage.staff import unit_of as staff_unit


def _unit_for(db, actor, permission, unit_code):
    """``(unit row or None, its id or None)``: the unit named, in the actor's scope, or the scope's one root."""
    scope = actor.scope(db, permission)
    if unit_code:
        unit = org_storage.unit_by_code(db, unit_code)
        if unit is None or (scope is not None and unit["id"] not in scope):
            raise not_found(N_("No unit with this code."))
        return unit
    if scope is None:
        return None
    units = storage.units(db)
    roots = [u for u in scope if units.get(u, {}).get("parent_id") not in scope]
    if len(roots) != 1:
        raise invalid("unit", N_("Name the unit whose period to close."))
    return org_storage.unit_by_code(db, units[roots[0]]["code"])


def _public(row, revisions):
    return {"kind": row["kind"], "key": row["key"], "unit": row.get("unit_code"), "first_day": row["first_day"],
            "last_day": row["last_day"], "closed_at": row["closed_at"], "closed_by": row["closed_by"],
            "revision": revisions[-1]["revision"] if revisions else None,
            "revisions": [{k: r[k] for k in ("revision", "created_at", "created_by", "reason", "software_version",
                                              "last_vote_id", "n_votes")} for r in revisions]}


def close_period(db, actor, period, unit_code=None, settings=None):
    """Close ``period`` (``2026-10``, ``2026-Q4``, ``2026``) for ``unit_code``'s subtree (None: the whole
    organisation for admin, the actor's one unit otherwise): its scores are frozen as revision 1.

    Brings the rollups up to date first. Returns the closed period as
    ``list_periods`` shows it. Raises ``Forbidden``, ``NotFound`` (unit),
    ``Invalid`` (period; one that has not ended yet), ``Conflict`` (already closed).
    """
    require(actor, "periods.close")
    settings = _settings(settings)
    parsed = periods.parse_period(period)
    unit = _unit_for(db, actor, "periods.close", unit_code)
    unit_id = unit["id"] if unit else None
    if local_day(timestamp(now_utc()), settings["TIMEZONE"]) <= parsed.last_day:
        raise invalid("period", N_("A period can be closed only after its last day."))
    if storage.find_period(db, parsed.kind, parsed.key, unit_id):
        raise Conflict(N_("This period is already closed; later votes make new revisions."), code="closed")
    rollups.roll_up(db, settings["TIMEZONE"], chunk=settings["ROLLUP_CHUNK_VOTES"])
    params = parameters.params_from_settings(settings)
    with write_transaction(db):
        storage.lock_for_close(db)
        if storage.find_period(db, parsed.kind, parsed.key, unit_id):
            raise Conflict(N_("This period is already closed; later votes make new revisions."), code="closed")
        storage.insert_period(db, parsed.kind, parsed.key, unit_id, parsed.first_day, parsed.last_day, timestamp(),
                              actor.name)
        row = storage.find_period(db, parsed.kind, parsed.key, unit_id)
        periods.freeze(db, row, "closed", actor.name, params, settings["TIMEZONE"])
        revisions = storage.revisions(db, row["id"])
        after = _public(row, revisions)
        audit.record(db, actor, "close", "period", periods._object_id(row), unit_id,
                     after={k: after[k] for k in ("kind", "key", "unit", "first_day", "last_day", "revision")}
                     | {"last_vote_id": revisions[-1]["last_vote_id"], "n_votes": revisions[-1]["n_votes"]})
    return after


def list_periods(db, actor):
    """Closed periods the actor may read (the whole organisation's, and those of units in scope; for a
    civil servant, those closed for their own unit or a unit above it), newest first, each ``{kind, key, unit, first_day, last_day, closed_at, closed_by, revision, revisions: [...]}``."""
    _require_read(actor)
    self_only = _is_self_only(actor)
    scope = None if self_only else actor.scope(db, "scores.read")
    above = _own_units_and_above(db, actor.staff_id) if self_only else None
    out = []
    for row in storage.list_periods(db):
        if self_only and row["unit_id"] is not None and row["unit_id"] not in above:
            continue
        if scope is not None and row["unit_id"] is not None and row["unit_id"] not in scope:
            continue
        out.append(_public(row, storage.revisions(db, row["id"])))
    return out


def _own_units_and_above(db, staff_id):
    """The unit a civil servant belongs to now and every unit above it."""
    units, out, node = storage.units(db), set(), staff_unit(db, staff_id)
    while node is not None and node not in out:
        out.add(node)
        node = units.get(node, {}).get("parent_id")
    return out


def period_revision(db, actor, period, revision, unit_code=None, include_flagged=False, settings=None):
    """Revision ``revision`` of the closed period holding ``unit_code``'s subtree (closed for that unit, a
    unit above it or the whole organisation; None: the whole organisation's, or for a non-admin their one
    unit's), in the shape of ``period_scores``, cut to the actor's view. Raises ``NotFound`` (no such closed period or revision), ``Invalid``."""
    _require_read(actor)
    parsed = periods.parse_period(period)
    variant = "with_flagged" if include_flagged else "counted"
    if _is_self_only(actor):
        _check_own_unit(db, actor, parsed, unit_code)
        unit = _main_unit(db, actor.staff_id, parsed)
        closed = periods.covering(db, parsed, unit["id"] if unit else None)
        view = None
    else:
        if unit_code:
            unit = _unit_for(db, actor, "scores.read", unit_code)
            closed = periods.covering(db, parsed, unit["id"])
        else:
            unit = None
            closed = storage.find_period(db, parsed.kind, parsed.key, None)
            if closed is None and actor.scope(db, "scores.read") is not None:
                unit = _unit_for(db, actor, "scores.read", None)
                closed = storage.find_period(db, parsed.kind, parsed.key, unit["id"])
        scope = actor.scope(db, "scores.read")
        view = periods.subtree(db, unit["id"]) if unit else scope
    snap = periods.snapshot(db, closed, int(revision)) if closed else None
    if snap is None:
        raise not_found(N_("No such revision of a closed period."))
    tables = _restrict(snap[variant], view, unit if not _is_self_only(actor) else None)
    answer = _answer(parsed, None if _is_self_only(actor) else unit, include_flagged, tables,
                     snap["revision"]["parameters"], closed, snap)
    answer["period"]["revision"] = snap["revision"]["revision"]
    answer["period"]["reason"] = snap["revision"]["reason"]
    answer["period"]["software_version"] = snap["revision"]["software_version"]
    if _is_self_only(actor):
        answer["staff"] = [row for row in answer["staff"] if row["staff_id"] == actor.staff_id]
        answer.update(counters=[], units=[], total=None)
    return answer


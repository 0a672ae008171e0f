"""Flags and their review: HR confirms misuse (the votes leave the scores) or dismisses it (they count).

A flag is read by whoever has ``flags.read`` on its unit, and by the
civil servant it is about (the ``staff`` role: ``Actor.staff_id``). HR
reviews with ``flags.review`` on its unit and a written reason; a review can
be made again with a new reason, and the audit log keeps each one. Nobody
reviews a flag about themselves. A review changes the standing of the
flag's votes, so the ``(day, staff)`` pairs they fall on go to
``rollup_dirty`` in the same transaction, for the rollup job to recount.
"""

from server import audit
from server.errors import N_, Forbidden, NotFound, invalid
from server.manage import forbid, require
from server.scoring.days import day_bounds_utc, local_day
from server.scoring.periods import parse_period
from server.storage import accounts, org, timestamp, write_transaction
from server.storage import flags as storage
from server.storage import rollups as rollup_storage
from server.storage import staff as staff_storage

DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}
STATUSES = ("open", "confirmed", "dismissed")
REASON_MAX = 2000


def dirty_pairs(db, flag_id, timezone):
    """The ``(day, staff_id)`` pairs a change to this flag's standing touches."""
    return {(local_day(at, timezone), staff_id) for at, staff_id in storage.vote_times_of_flag(db, flag_id) if at}


def _reach(db, actor):
    """``(unit_ids or None, own staff id)`` of the flags the actor may read; Forbidden if none."""
    units = actor.scope(db, "flags.read") if actor.can("flags.read") else set()
    own = actor.staff_id if actor.can("self.read") else None
    if units == set() and own is None:
        raise forbid("flags.read")
    return units, own


def _may_read(db, actor, flag):
    units, own = _reach(db, actor)
    return units is None or flag["unit_id"] in units or (own is not None and flag["staff_id"] == own)


def _visible(db, actor, flag_id):
    flag = storage.flag_by_id(db, flag_id)
    if flag is None or not _may_read(db, actor, flag):
        raise NotFound(N_("No such flag."))
    return flag


def list_flags(db, actor, filters, config):
    """Flags the actor may read, newest first.

    ``filters``: ``status`` (open|confirmed|dismissed), ``unit`` (a unit code:
    its subtree), ``staff`` (a staff code), ``period`` (flags whose votes fall
    in it), ``before_id`` and ``limit`` (page). Unknown unit or staff codes
    give an empty list, like codes outside the actor's reach.
    """
    units, own = _reach(db, actor)
    status = filters.get("status")
    if status and status not in STATUSES:
        raise invalid("status", N_("One of open, confirmed, dismissed."))
    unit_filter = None
    if filters.get("unit"):
        unit = org.unit_by_code(db, filters["unit"])
        if unit is None:
            return []
        unit_filter = accounts.subtree_ids(db, {unit["id"]})
    staff_id = None
    if filters.get("staff"):
        found = staff_storage.by_codes(db, [filters["staff"]]).get(filters["staff"])
        if found is None:
            return []
        staff_id = found["id"]
    start = end = None
    if filters.get("period"):
        period = parse_period(filters["period"])
        start, end = day_bounds_utc(period.first_day, period.last_day, config["TIMEZONE"])
    return storage.list_flags(db, units, own, status, unit_filter, staff_id, start, end,
                              filters.get("before_id"), filters.get("limit", 100))


def get_flag(db, actor, flag_id):
    """One flag with its votes and every review made of it."""
    flag = _visible(db, actor, flag_id)
    votes = storage.votes_of_flag(db, flag_id)
    for vote in votes:
        vote["flags"] = [f for f in (vote["flags"] or "").split(",") if f]
        vote["time_corrected"] = bool(vote["time_corrected"])
    return {**flag, "votes": votes, "reviews": storage.reviews_of_flag(db, flag_id)}


def review_flag(db, actor, flag_id, decision, reason, config):
    """Confirm misuse (``"confirm"``: the flag's votes leave the scores) or dismiss it (they count again).

    Needs ``flags.review`` on the flag's unit and a written reason; a flag
    already reviewed may be reviewed again with a new reason. Raises
    ``NotFound`` (no such flag, or out of reach), ``Forbidden`` (no
    permission, or a flag about the reviewer themselves), ``Invalid``.
    Returns the flag as ``get_flag`` does.
    """
    require(actor, "flags.review")
    flag = storage.flag_by_id(db, flag_id)
    if flag is None or not actor.reaches(db, "flags.review", flag["unit_id"]):
        if flag is not None and _may_read(db, actor, flag):
            raise forbid("flags.review")
        raise NotFound(N_("No such flag."))
    if decision not in DECISIONS:
        raise invalid("decision", N_("Either confirm or dismiss."))
    reason = (reason or "").strip()
    if not reason:
        raise invalid("reason", N_("Write why: the reason stays in the audit log."))
    if len(reason) > REASON_MAX:
        raise invalid("reason", N_("At most 2000 characters."))
    if flag["staff_id"] is not None and actor.user_id is not None:
        user = accounts.user_by_id(db, actor.user_id)
        if user is not None and user["staff_id"] == flag["staff_id"]:
            error = Forbidden(N_("Nobody reviews a flag about themselves."))
            error.permission = "flags.review"
            raise error
    status = DECISIONS[decision]
    now = timestamp()
    with write_transaction(db):
        storage.set_review(db, flag_id, status, actor.name, now, reason)
        rollup_storage.mark_dirty(db, dirty_pairs(db, flag_id, config["TIMEZONE"]))
        audit.record(db, actor, "review", "flag", flag_id, flag["unit_id"],
                     before={"status": flag["status"], "reason": flag["review_reason"]},
                     after={"status": status, "reason": reason, "kind": flag["kind"], "staff": flag["staff"]})
    return get_flag(db, actor, flag_id) if _may_read(db, actor, flag) else storage.flag_by_id(db, flag_id)

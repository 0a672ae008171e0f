"""Raw votes and sync incidents as auditors read them, within their units."""

from server.manage import require
from server.storage import votes


def list_votes(db, actor, after_id, limit):
    require(actor, "votes.read")
    return votes.list_votes_in(db, actor.scope(db, "votes.read"), after_id, limit)


def list_incidents(db, actor, after_id, limit):
    require(actor, "incidents.read")
    return votes.list_incidents_in(db, actor.scope(db, "incidents.read"), after_id, limit)

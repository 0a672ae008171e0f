"""Each stream of signed items a tablet sends, described in the few lines that differ.

The pipeline (``pipeline.py``) does the rest the same way for every stream:
envelope, rules per item, origin, signature, storage with dedupe, conflicts,
gaps and acknowledgement. A later stream adds a ``Stream`` here, a table in
``server/storage/`` and a route.
"""

import dataclasses
from typing import Callable

from device_client import protocol
from server.storage import org
from server.storage import sessions as session_storage
from server.storage import votes as vote_storage
from server.sync.schemas import BatchSchema, SessionBatchSchema


@dataclasses.dataclass(frozen=True)
class Stream:
    name: str
    items_key: str  # the envelope's list of items: "votes", "events"
    envelope: object  # marshmallow schema of the envelope
    rules: Callable  # raw item -> {field: [messages]}: the protocol's own rules, as the tablet checks them
    canonical: Callable  # item -> the bytes its signature covers
    table: object  # server.storage.batches.Table
    check: Callable  # (db, context, item, person) -> (errors, flags): the stream's own rules
    # (item, counter, person, flags, timing) -> the stream's own columns; ``timing`` (pipeline's
    # ``time_and_roster_errors``): counted_at, time_corrected, and the staff's and counter's units then
    columns: Callable


# --- Votes ------------------------------------------------------------------------


def _vote_check(db, context, vote, person):
    """The rating and reasons against the scale the vote names; flags for what is kept but odd."""
    errors = {}
    scales = context.setdefault("scales", {})
    version = vote["scale_version"]
    if version not in scales:
        scale = org.scale(db, version)
        scales[version] = scale and (
            {level["value"] for level in scale["levels"]}, {reason["code"] for reason in scale["reasons"]}
        )
    if scales[version] is None:
        errors["scale_version"] = ["Unknown rating scale version."]
    else:
        levels, reason_codes = scales[version]
        if vote["rating"] not in levels:
            errors["rating"] = [f"Not a level of rating scale {version}."]
        unknown = set(vote["reasons"]) - reason_codes
        if unknown:
            errors["reasons"] = [f"Unknown reason codes: {', '.join(sorted(unknown))}."]
    # Deactivated after the tablet cached its roster: the service happened, the vote counts.
    flags = ["staff_inactive"] if person is not None and not person["active"] else []
    # Signed marks the tablet put on the tap become the vote's ingest flags (the
    # protocol's rules admit only known marks): kept and counted as flagged until reviewed.
    if "marks" in vote:
        flags.extend(vote["marks"])
    return errors, flags


def _vote_columns(vote, counter, person, flags, timing):
    """The vote's columns: it counts at ``counted_at`` for the units of that moment (``unit_history``)."""
    return {"counter_id": counter["id"], "staff_id": person["id"], "rating": vote["rating"],
            "reasons": vote["reasons"], "ticket": vote["ticket"], "local_time": vote["local_time"],
            "scale_version": vote["scale_version"], "flags": flags, **timing}


VOTES = Stream(
    name=protocol.VOTES.name,
    items_key=protocol.VOTES.envelope,
    envelope=BatchSchema(),
    rules=protocol.vote_errors,
    canonical=protocol.canonical_vote_bytes,
    table=vote_storage.TABLE,
    check=_vote_check,
    columns=_vote_columns,
)


# --- Staff sign-in/out events -------------------------------------------------------


def _event_check(db, context, event, person):
    return {}, []


def _event_columns(event, counter, person, flags, timing):
    return {"counter_id": counter["id"], "staff_id": person["id"], "event": event["event"],
            "reason": event["reason"], "local_time": event["local_time"]}


SESSIONS = Stream(
    name=protocol.SESSIONS.name,
    items_key=protocol.SESSIONS.envelope,
    envelope=SessionBatchSchema(),
    rules=protocol.session_event_errors,
    canonical=protocol.canonical_session_bytes,
    table=session_storage.TABLE,
    check=_event_check,
    columns=_event_columns,
)

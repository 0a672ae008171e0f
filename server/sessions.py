"""Staff session events from kiosks: check each event, then store the batch once.

The same shape as vote ingest (``server/ingest.py``), smaller: one bad event
is rejected on its own, identical re-sends are ``duplicate``, and the answer
carries the device's contiguous ``ack_seq`` for session events.
"""

import time

from marshmallow import ValidationError, fields, validate

from device_client.protocol import (
    SESSION_EVENTS,
    SESSION_FIELDS,
    canonical_session_bytes,
    vote_digest,
)
from server.api.errors import ApiError
from server.ingest import batch_results, clock_offset_ms, origin_errors, rejection, verifier_for
from server.schemas import CODE_RE, UUID_RE, BaseSchema, Timestamp
from server.storage import org, sessions, timestamp, write_transaction
from server.storage import staff as staff_storage
from server.storage.devices import mark_seen

MAX_EVENTS = 500
REASONS = ("manual", "idle", "end_of_day", "replaced", "attempts")


class SessionBatchSchema(BaseSchema):
    device_time = Timestamp(required=True)
    events = fields.List(fields.Dict(), required=True)


class SessionEventSchema(BaseSchema):
    id = fields.String(required=True, validate=validate.Regexp(UUID_RE, error="Not a lowercase UUID."))
    device = fields.String(required=True, validate=validate.Length(min=1, max=64))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**53 - 1))
    counter = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    staff = fields.String(required=True, validate=validate.Regexp(CODE_RE))
    event = fields.String(required=True, validate=validate.OneOf(SESSION_EVENTS))
    reason = fields.String(required=True, allow_none=True, validate=validate.OneOf(REASONS))
    local_time = Timestamp(required=True)
    signature = fields.String(required=True, validate=validate.Length(equal=88))


BATCH = SessionBatchSchema()
EVENT = SessionEventSchema()


def ingest_events(db, device, body):
    """Validate and store one batch of session events; returns the answer body."""
    received = time.time()
    batch = BATCH.load(body)
    if len(batch["events"]) > MAX_EVENTS:
        raise ApiError(413, "batch_too_large", f"A batch holds at most {MAX_EVENTS} events.",
                       {"events": [f"At most {MAX_EVENTS} events per batch."]})
    offset_ms = clock_offset_ms(received, batch["device_time"])
    candidates, rejections = _check(db, device, batch["events"])
    meta = {"received_at": timestamp(), "clock_offset_ms": offset_ms}
    with write_transaction(db):
        ack_seq, outcomes = sessions.store_events(db, device["id"], meta, candidates, rejections)
        mark_seen(db, device["id"], offset_ms)
    results = batch_results(len(batch["events"]), outcomes, candidates, rejections)
    return {"server_time": timestamp(), "ack_seq": ack_seq, "results": results}


def _check(db, device, raw_events):
    counter = org.counter_by_code(db, device["counter_code"])
    staff = staff_storage.by_codes(db, {e.get("staff") for e in raw_events if isinstance(e.get("staff"), str)})
    verifier = verifier_for(device["public_key"])
    candidates, rejections = [], []
    for index, raw in enumerate(raw_events):
        try:
            event = EVENT.load(raw)
        except ValidationError as exc:
            rejections.append(rejection(index, raw, exc.messages))
            continue
        errors = origin_errors(device, counter, staff, event)
        person = staff.get(event["staff"])
        canonical = canonical_session_bytes(event)
        digest = vote_digest(canonical)
        if not verifier.verify(canonical, event["signature"]):
            errors["signature"] = ["The signature does not verify with this device's key."]
        if errors:
            rejections.append(rejection(index, raw, errors, digest))
            continue
        candidates.append({
            **event, "index": index, "digest": digest, "staff_id": person["id"],
            "counter_id": counter["id"],
            "payload": {name: event[name] for name in (*SESSION_FIELDS, "signature")},
        })
    return candidates, rejections

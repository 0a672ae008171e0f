"""Staff session events from kiosks: check each event, then store the batch once.

The same shape as vote ingest (``server/ingest.py``), smaller: one bad event
is rejected on its own, identical re-sends are ``duplicate``, and the answer
carries the device's contiguous ``ack_seq`` for session events.
"""

import hashlib
import json
import time

from marshmallow import ValidationError, fields, validate

from device_client.protocol import (
    SESSION_EVENTS,
    SESSION_FIELDS,
    canonical_session_bytes,
    parse_time,
    vote_digest,
)
from server.errors import ApiError
from server.ingest import verifier_for
from server.schemas import CODE_RE, UUID_RE, BaseSchema, Timestamp
from server.storage import org, sessions, timestamp, write_transaction
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
    offset_ms = int(round((received - parse_time(batch["device_time"]).timestamp()) * 1000))
    candidates, rejections = _check(db, device, batch["events"])
    meta = {"received_at": timestamp(), "clock_offset_ms": offset_ms}
    with write_transaction(db):
        ack_seq, outcomes = sessions.store_events(db, device["id"], meta, candidates, rejections)
        mark_seen(db, device["id"], offset_ms)
    items = {item["index"]: item for item in candidates + rejections}
    results = []
    for index in range(len(batch["events"])):
        status, errors = outcomes[index]
        item = items[index]
        result = {"index": index, "id": item.get("id") or item.get("uuid"), "seq": item["seq"], "status": status}
        if errors:
            result["errors"] = errors
        results.append(result)
    return {"server_time": timestamp(), "ack_seq": ack_seq, "results": results}


def _check(db, device, raw_events):
    counter = org.counter_by_code(db, device["counter_code"])
    staff = org.staff_by_codes(db, {e.get("staff") for e in raw_events if isinstance(e.get("staff"), str)})
    verifier = verifier_for(device["public_key"])
    candidates, rejections = [], []
    for index, raw in enumerate(raw_events):
        try:
            event = EVENT.load(raw)
        except ValidationError as exc:
            rejections.append(_rejection(index, raw, exc.messages, None))
            continue
        errors = {}
        if event["device"] != device["id"]:
            errors["device"] = ["Not the device this token belongs to."]
        if event["counter"] != counter["code"]:
            errors["counter"] = [f"This device is enrolled at counter {counter['code']}."]
        person = staff.get(event["staff"])
        if person is None:
            errors["staff"] = ["No staff member has this code."]
        canonical = canonical_session_bytes(event)
        digest = vote_digest(canonical)
        if not verifier.verify(canonical, event["signature"]):
            errors["signature"] = ["The signature does not verify with this device's key."]
        if errors:
            rejections.append(_rejection(index, raw, errors, digest))
            continue
        candidates.append({
            **event, "index": index, "digest": digest, "staff_id": person["id"],
            "counter_id": counter["id"],
            "payload": {name: event[name] for name in (*SESSION_FIELDS, "signature")},
        })
    return candidates, rejections


def _rejection(index, raw, errors, digest):
    seq = raw.get("seq")
    if digest is None:
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "index": index,
        "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else None,
        "uuid": raw.get("id") if isinstance(raw.get("id"), str) else None,
        "digest": digest,
        "errors": errors,
        "payload": raw,
    }

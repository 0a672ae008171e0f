"""One path for every stream of signed items: check each item, store the batch once, answer.

The CPU-heavy part (rules, signatures) runs before the write transaction so
the SQLite write lock is held only for the short dedupe-and-insert step.
The answer carries one result per item sent, in order, and the device's
contiguous ``ack_seq`` for the stream (docs/protocol.md).
"""

import functools
import hashlib
import json
import os
import signal
import time

from device_client.protocol import Verifier, parse_time, vote_digest
from server.errors import Invalid
from server.storage import batches, devices, org, timestamp, write_transaction
from server.storage import staff as staff_storage
from server.sync import rate


@functools.lru_cache(maxsize=8192)
def verifier_for(public_key):
    return Verifier(public_key)


def ingest(db, device, body, config, stream):
    """Validate and store one batch of ``stream``; returns the answer body.

    Raises marshmallow's ``ValidationError`` for a bad envelope, ``Invalid``
    (``batch_too_large``) for too many items and ``rate.RateLimited`` when the
    device's bucket is empty; a bad item is answered ``rejected`` and kept as
    an incident.
    """
    received = time.time()
    received_at = timestamp()
    envelope = stream.envelope.load(body if isinstance(body, dict) else {"_": body})
    items = envelope[stream.items_key]
    limit = config["MAX_BATCH_VOTES"]
    if len(items) > limit:
        raise Invalid(f"A batch holds at most {limit} items; this one has {len(items)}.",
                      {stream.items_key: [f"At most {limit} per batch."]}, code="batch_too_large")
    offset_ms = clock_offset_ms(received, envelope["device_time"])
    candidates, rejections = check_items(db, device, stream, items)
    meta = {"received_at": received_at, "device_time": envelope["device_time"], "clock_offset_ms": offset_ms}
    with write_transaction(db):
        rate.take(db, device["id"], config, received)
        batch_id, ack_seq, outcomes = batches.store_batch(db, stream.table, device["id"], meta, candidates,
                                                          rejections)
        devices.mark_seen(db, device["id"], offset_ms)
    _fault_after_commit(config)
    return {
        "server_time": timestamp(),
        "batch_id": batch_id,
        "ack_seq": ack_seq,
        "results": results(len(items), outcomes, candidates, rejections),
    }


def check_items(db, device, stream, raw_items):
    """``(candidates, rejections)``: items that passed every check, and those refused with why.

    The rules are the protocol's own (``device_client/protocol.py``), the
    same the tablet applies before it signs; then where the item comes from,
    the stream's own checks, and the signature.
    """
    counter = org.counter_by_code(db, device["counter_code"])
    staff = staff_storage.by_codes(db, {raw.get("staff") for raw in raw_items
                                        if isinstance(raw, dict) and isinstance(raw.get("staff"), str)})
    verifier = verifier_for(device["public_key"])
    context = {"counter": counter}
    candidates, rejections = [], []
    for index, item in enumerate(raw_items):
        errors = stream.rules(item)
        if errors:
            rejections.append(rejection(index, item, errors))
            continue
        errors = origin_errors(device, counter, staff, item)
        person = staff.get(item["staff"])
        own_errors, flags = stream.check(db, context, item, person)
        errors.update(own_errors)
        canonical = stream.canonical(item)
        digest = vote_digest(canonical)
        if not verifier.verify(canonical, item["signature"]):
            errors["signature"] = ["The signature does not verify with this device's key."]
        if errors:
            rejections.append(rejection(index, item, errors, digest))
            continue
        candidates.append({
            "index": index, "id": item["id"], "seq": item["seq"], "digest": digest,
            "signature": item["signature"], "flags": flags,
            "payload": item,  # the wire fields, as sent
            "columns": stream.columns(item, counter, person, flags),
        })
    return candidates, rejections


def origin_errors(device, counter, staff, item):
    """Field errors for an item from the wrong place.

    It must name the device whose token sent it, that device's counter, and
    a staff member the server has (or had).
    """
    errors = {}
    if item["device"] != device["id"]:
        errors["device"] = ["Not the device this token belongs to."]
    if item["counter"] != counter["code"]:
        errors["counter"] = [f"This device is enrolled at counter {counter['code']}."]
    if item["staff"] not in staff:
        errors["staff"] = ["No staff member has this code."]
    return errors


def clock_offset_ms(received, device_time):
    """Server receive time minus the device's clock, in milliseconds."""
    return int(round((received - parse_time(device_time).timestamp()) * 1000))


def rejection(index, raw, errors, digest=None):
    """A refused item as the storage layer keeps it (an incident with its payload)."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    uuid = raw.get("id") if isinstance(raw, dict) else None
    if digest is None:
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    return {
        "index": index,
        "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else None,
        "uuid": uuid if isinstance(uuid, str) else None,
        "digest": digest,
        "errors": errors,
        "payload": raw,
    }


def results(count, outcomes, candidates, rejections):
    """One result per item sent, in order: index, id, seq, status, errors, flags."""
    items = {item["index"]: item for item in candidates + rejections}
    answer = []
    for index in range(count):
        status, errors = outcomes[index]
        item = items[index]
        result = {"index": index, "id": item.get("id") or item.get("uuid"), "seq": item["seq"], "status": status}
        if errors:
            result["errors"] = errors
        if item.get("flags"):
            result["flags"] = item["flags"]
        answer.append(result)
    return answer


def _fault_after_commit(config):
    """Testing hook: die between commit and response, as a power cut would."""
    marker = config.get("FAULT_KILL_AFTER_COMMIT_FILE")
    if marker and os.path.exists(marker):
        try:
            os.remove(marker)
        except FileNotFoundError:
            return
        os.killpg(os.getpgrp(), signal.SIGKILL)

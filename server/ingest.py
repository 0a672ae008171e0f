"""Vote ingest: check every vote of a batch, then commit the batch exactly once.

The CPU-heavy part (schema, signatures) runs before the write transaction so
the SQLite write lock is held only for the short dedupe-and-insert step.
"""

import functools
import hashlib
import json
import os
import signal
import time

from marshmallow import ValidationError

from device_client.protocol import Verifier, canonical_vote_bytes, parse_time, vote_digest
from server.api.errors import ApiError
from server.schemas import BatchSchema, VoteSchema, is_clean_vote
from server.storage import org, timestamp, votes, write_transaction
from server.storage import staff as staff_storage
from server.storage.devices import mark_seen, rate_wait

BATCH_SCHEMA = BatchSchema()
VOTE_SCHEMA = VoteSchema()


@functools.lru_cache(maxsize=8192)
def verifier_for(public_key):
    return Verifier(public_key)


def check_rate(device, config):
    """Refuse a flooding device cheaply, before any signature is checked."""
    wait = rate_wait(
        device, time.time(), config["DEVICE_RATE_PER_MINUTE"], config["DEVICE_RATE_BURST"]
    )
    if wait:
        raise rate_limited(wait)


def rate_limited(wait):
    seconds = max(1, int(wait + 0.999))
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests from this device; retry after {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


def ingest_batch(db, device, body, config):
    """Validate and store one batch; returns the response body (see docs/protocol.md)."""
    received = time.time()
    received_at = timestamp()
    batch = BATCH_SCHEMA.load(body if isinstance(body, dict) else {"_": body})
    limit = config["MAX_BATCH_VOTES"]
    if len(batch["votes"]) > limit:
        raise ApiError(
            413,
            "batch_too_large",
            f"A batch holds at most {limit} votes; this one has {len(batch['votes'])}.",
            {"votes": [f"At most {limit} votes per batch."]},
        )
    offset_ms = clock_offset_ms(received, batch["device_time"])
    candidates, rejections = _check_votes(db, device, batch["votes"])
    rate = {
        "now": received,
        "per_minute": config["DEVICE_RATE_PER_MINUTE"],
        "burst": config["DEVICE_RATE_BURST"],
    }
    meta = {"received_at": received_at, "device_time": batch["device_time"], "clock_offset_ms": offset_ms}
    try:
        with write_transaction(db):
            batch_id, ack_seq, outcomes = votes.store_batch(
                db, device["id"], meta, candidates, rejections, rate
            )
            mark_seen(db, device["id"], offset_ms)
    except votes.RateLimited as exc:
        raise rate_limited(exc.retry_after) from None
    _fault_after_commit(config)

    results = batch_results(len(batch["votes"]), outcomes, candidates, rejections)
    return {
        "server_time": timestamp(),
        "batch_id": batch_id,
        "ack_seq": ack_seq,
        "results": results,
    }


def _check_votes(db, device, raw_votes):
    staff_codes = {raw.get("staff") for raw in raw_votes if isinstance(raw.get("staff"), str)}
    staff = staff_storage.by_codes(db, staff_codes)
    counter = org.counter_by_code(db, device["counter_code"])
    verifier = verifier_for(device["public_key"])
    scales = {}
    candidates, rejections = [], []
    for index, raw in enumerate(raw_votes):
        if is_clean_vote(raw):
            vote = raw
        else:
            try:
                vote = VOTE_SCHEMA.load(raw)
            except ValidationError as exc:
                rejections.append(rejection(index, raw, exc.messages))
                continue
        errors = origin_errors(device, counter, staff, vote)
        person = staff.get(vote["staff"])
        version = vote["scale_version"]
        if version not in scales:
            scales[version] = _scale_values(org.scale(db, version))
        scale = scales[version]
        if scale is None:
            errors["scale_version"] = ["Unknown rating scale version."]
        else:
            levels, reason_codes = scale
            if vote["rating"] not in levels:
                errors["rating"] = [f"Not a level of rating scale {version}."]
            unknown = set(vote["reasons"]) - reason_codes
            if unknown:
                errors["reasons"] = [f"Unknown reason codes: {', '.join(sorted(unknown))}."]
        canonical = canonical_vote_bytes(vote)
        digest = vote_digest(canonical)
        if not verifier.verify(canonical, vote["signature"]):
            errors["signature"] = ["The signature does not verify with this device's key."]
        if errors:
            rejections.append(rejection(index, raw, errors, digest))
            continue
        flags = []
        if not person["active"]:
            flags.append("staff_inactive")
        if person["unit_id"] != counter["unit_id"]:
            flags.append("staff_other_unit")
        candidates.append(
            {
                **vote,
                "index": index,
                "digest": digest,
                "staff_id": person["id"],
                "counter_id": counter["id"],
                "flags": flags,
                "payload": vote,  # the wire fields, as sent (or as the schema loaded them)
            }
        )
    return candidates, rejections


def _scale_values(scale):
    """(rating values, reason codes) of a scale, as sets: looked up once per batch."""
    if scale is None:
        return None
    return {level["value"] for level in scale["levels"]}, {r["code"] for r in scale["reasons"]}


def clock_offset_ms(received, device_time):
    """Server receive time minus the device's clock, in milliseconds."""
    return int(round((received - parse_time(device_time).timestamp()) * 1000))


def origin_errors(device, counter, staff, item):
    """Field errors for a signed item (vote or session event) from the wrong place.

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


def rejection(index, raw, errors, digest=None):
    """A refused item as the storage layer keeps it (an incident with its payload)."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    uuid = raw.get("id") if isinstance(raw, dict) else None
    if digest is None:
        digest = hashlib.sha256(
            json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
    return {
        "index": index,
        "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else None,
        "uuid": uuid if isinstance(uuid, str) else None,
        "digest": digest,
        "errors": errors,
        "payload": raw,
    }


def batch_results(count, outcomes, candidates, rejections):
    """One result per item sent, in order: index, id, seq, status, errors, flags."""
    items = {item["index"]: item for item in candidates + rejections}
    results = []
    for index in range(count):
        status, errors = outcomes[index]
        item = items[index]
        result = {"index": index, "id": item.get("id") or item.get("uuid"), "seq": item["seq"], "status": status}
        if errors:
            result["errors"] = errors
        if item.get("flags"):
            result["flags"] = item["flags"]
        results.append(result)
    return results


def _fault_after_commit(config):
    """Testing hook: die between commit and response, as a power cut would."""
    marker = config.get("FAULT_KILL_AFTER_COMMIT_FILE")
    if marker and os.path.exists(marker):
        try:
            os.remove(marker)
        except FileNotFoundError:
            return
        os.killpg(os.getpgrp(), signal.SIGKILL)

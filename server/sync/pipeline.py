"""One path for every stream of signed items: check each item, store the batch once, answer.

The CPU-heavy part (rules, signatures) runs before the write transaction so
the SQLite write lock is held only for the short dedupe-and-insert step.
The answer carries one result per item sent, in order, and the device's
contiguous ``ack_seq`` for the stream (docs/protocol.md).
"""

import datetime as dt
import functools
import hashlib
import json
import os
import signal
import time
import zoneinfo

from device_client.protocol import INT64_MAX, Verifier, format_utc, parse_time, vote_digest
from server.errors import Invalid
from server.monitoring import metrics
from server.storage import IntegrityError, batches, devices, history, org, rosters, timestamp, write_transaction
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
    when = When(received, offset_ms, config)
    candidates, rejections = check_items(db, device, stream, items, when)
    meta = {"received_at": received_at, "device_time": envelope["device_time"], "clock_offset_ms": offset_ms}
    limits = batches.Limits(config["INCIDENTS_PER_DEVICE_PER_DAY"], config["INCIDENT_PAYLOAD_MAX_BYTES"])
    try:
        batch_id, ack_seq, outcomes = _store(db, device, stream, meta, candidates, rejections, limits, config,
                                             received, offset_ms)
    except IntegrityError:
        # Only on PostgreSQL: another device's batch committed an item with one of these ids after this one
        # looked (the device lock orders one device's batches, not two devices'). Once more, it is seen:
        # answered as a conflict, as SQLite's one writer at a time answers it the first time.
        batch_id, ack_seq, outcomes = _store(db, device, stream, meta, candidates, rejections, limits, config,
                                             received, offset_ms)
    _fault_after_commit(config)
    metrics.count_items(stream.name, (status for status, _ in outcomes.values()))
    return {
        "server_time": timestamp(),
        "batch_id": batch_id,
        "ack_seq": ack_seq,
        "results": results(len(items), outcomes, candidates, rejections),
    }


def _store(db, device, stream, meta, candidates, rejections, limits, config, received, offset_ms):
    """The batch's one write transaction: ``(batch_id, ack_seq, outcomes)``.

    The device's row is locked first (``devices.lock``), so two servers given
    the same tablet's retry at once run this one after the other: the second
    reads the ``ack_seq``, rate bucket and items the first committed.
    """
    with write_transaction(db):
        devices.lock(db, device["id"])
        rate.take(db, device["id"], config, received)
        stored = batches.store_batch(db, stream.table, device["id"], meta, candidates, rejections, limits)
        devices.mark_seen(db, device["id"], offset_ms)
    return stored


class When:
    """The batch's clock: when it arrived, how far the tablet's clock was off, and the local calendar.

    A signed item carries the tablet's ``local_time`` at the tap. Corrected
    by the offset measured on this batch it says when the tap happened – as
    long as the clock did not jump between the tap and the sync (a tablet
    whose clock was reset after a power cut). So the time an item counts at
    is the corrected one when the offset is beyond ``CLOCK_CORRECTION_SECONDS``
    and the corrected time is possible (after the device's enrollment, not in
    the future, within ``VOTE_CLOCK_TOLERANCE_SECONDS``), otherwise the
    tablet's own when that is possible; an item for which neither is possible
    is refused.
    """

    def __init__(self, received, offset_ms, config):
        self.received = dt.datetime.fromtimestamp(received, dt.timezone.utc)
        self.offset = dt.timedelta(milliseconds=offset_ms)
        self.tolerance = dt.timedelta(seconds=config["VOTE_CLOCK_TOLERANCE_SECONDS"])
        self.correct = abs(self.offset) > dt.timedelta(seconds=config["CLOCK_CORRECTION_SECONDS"])
        self.zone = zoneinfo.ZoneInfo(config["TIMEZONE"])

    def of(self, item, enrolled_at):
        """``(moment, corrected, error)``: when the item counts (aware, UTC) and whether that is the
        clock-corrected time, or None and why it cannot count."""
        own = parse_time(item["local_time"]).astimezone(dt.timezone.utc)
        corrected = own + self.offset
        earliest, latest = parse_time(enrolled_at) - self.tolerance, self.received + self.tolerance
        if self.correct and earliest <= corrected <= latest:
            return corrected, True, None
        if earliest <= own <= latest:
            return own, False, None
        if min(own, corrected) > latest:
            return None, False, (f"In the future: {format_utc(min(own, corrected))} is after the server's"
                                 f" {format_utc(self.received)}.")
        return None, False, f"Before this device was enrolled ({enrolled_at})."

    def day(self, moment):
        """The local date of a moment, ``YYYY-MM-DD`` (the roster's calendar)."""
        return moment.astimezone(self.zone).date().isoformat()


def check_items(db, device, stream, raw_items, when):
    """``(candidates, rejections)``: items that passed every check, and those refused with why.

    The rules are the protocol's own (``device_client/protocol.py``), the
    same the tablet applies before it signs; then where and when the item
    comes from (``origin_errors``, ``time_and_roster_errors``), the stream's
    own checks, and the signature.
    """
    counter = org.counter_by_code(db, device["counter_code"])
    staff = staff_storage.by_codes(db, {raw.get("staff") for raw in raw_items
                                        if isinstance(raw, dict) and isinstance(raw.get("staff"), str)})
    verifier = verifier_for(device["public_key"])
    # One query each for the batch: the units of its people and of its counter over time, and the
    # assignment days of its people at the counter (anyone may have been seconded at the item's time).
    staff_ids = [person["id"] for person in staff.values()]
    context = {"counter": counter, "device": device, "when": when,
               "spans": rosters.spans(db, counter["id"], staff_ids),
               "staff_units": history.spans(db, "staff", staff_ids),
               "counter_units": history.spans(db, "counter", [counter["id"]]).get(counter["id"])}
    candidates, rejections = [], []
    for index, item in enumerate(raw_items):
        errors = stream.rules(item)
        code = item.get("staff") if isinstance(item, dict) else None
        person = staff.get(code) if isinstance(code, str) else None
        if errors:
            rejections.append(rejection(index, item, errors, person=person))
            continue
        errors = origin_errors(device, counter, staff, item)
        timing = None
        if person is not None:
            time_errors, timing = time_and_roster_errors(context, item, person)
            errors.update(time_errors)
        own_errors, flags = stream.check(db, context, item, person)
        errors.update(own_errors)
        canonical = stream.canonical(item)
        digest = vote_digest(canonical)
        if not verifier.verify(canonical, item["signature"]):
            errors["signature"] = ["The signature does not verify with this device's key."]
        if errors:
            rejections.append(rejection(index, item, errors, digest, person))
            continue
        candidates.append({
            "index": index, "id": item["id"], "seq": item["seq"], "digest": digest,
            "signature": item["signature"], "flags": flags, "staff_id": person["id"],
            "payload": item,  # the wire fields, as sent
            "columns": stream.columns(item, counter, person, flags, timing),
        })
    return candidates, rejections


def time_and_roster_errors(context, item, person):
    """``(errors, timing)``: field errors for an item from the wrong time, or about someone not on the
    counter's roster then; ``timing`` (None when the time is impossible) says when it counts and for which
    units: ``counted_at`` (UTC text), ``time_corrected`` (0/1), ``unit_id`` and ``counter_unit_id``.

    Refused (and kept as incidents): a tap that cannot have happened when it
    says – in the future or before the device was enrolled, beyond
    ``VOTE_CLOCK_TOLERANCE_SECONDS`` (see ``When``) – one after its counter
    was deactivated (before it, the service happened and the vote counts),
    and one about a person who was not on the counter's roster that local day.
    The units are those of the item's time (``unit_history``): a late item
    from an offline tablet, cast before its person or counter moved, keeps
    the old units and the roster of then.
    """
    errors = {}
    when, counter, device = context["when"], context["counter"], context["device"]
    moment, corrected, why = when.of(item, device["enrolled_at"])
    if moment is None:
        return {"local_time": [why]}, None
    # ``moment`` is UTC (``When.of``): the stored text form (``format_utc``) at half its cost.
    counted_at = moment.isoformat(timespec="milliseconds")[:23] + "Z"
    timing = {
        "counted_at": counted_at,
        "time_corrected": int(corrected),
        "unit_id": history.unit_at(context["staff_units"].get(person["id"]), counted_at, person["unit_id"]),
        "counter_unit_id": history.unit_at(context["counter_units"], counted_at, counter["unit_id"]),
    }
    if not counter["active"] and counter["deactivated_at"] and moment >= parse_time(counter["deactivated_at"]):
        errors["counter"] = [f"Counter {counter['code']} was deactivated at {counter['deactivated_at']}."]
    day = when.day(moment)
    if timing["unit_id"] != timing["counter_unit_id"] and not any(
        start <= day and (end is None or day <= end) for start, end in context["spans"].get(person["id"], ())
    ):
        errors["staff"] = [f"Not on the roster of counter {counter['code']} on {day}."]
    return errors, timing


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


def rejection(index, raw, errors, digest=None, person=None):
    """A refused item as the storage layer keeps it (an incident with its payload, and whom it is about)."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    uuid = raw.get("id") if isinstance(raw, dict) else None
    if digest is None:
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    return {
        "index": index,
        # Kept only when a database column can hold it: a refused item may claim any number (2**63 included).
        "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) and 0 < seq <= INT64_MAX else None,
        "uuid": uuid if isinstance(uuid, str) else None,
        "digest": digest,
        "errors": errors,
        "payload": raw,
        "staff_id": person and person["id"],
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

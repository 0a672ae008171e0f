"""Exports for auditors: raw votes or the audit log as a verifiable bundle (docs/verify.md).

The page, the API and ``hailong export`` call these. Permission
``votes.export`` (``audit.export``) and the actor's unit scope decide which
rows go out: an auditor of a unit gets the votes cast at its counters or
about its staff (their units at vote time), and asking for a unit outside
the scope is refused, not answered with an empty file. Every export,
finished or cut short, writes one audit entry (action ``export``) with its
filters and counts.

``prepare_*`` checks everything before the first byte, so a page or the API
answers a bad filter with an error, not a broken download; ``run`` writes
the bundle and is a generator the streamed download drives.
"""

import dataclasses
import datetime as dt

from server import audit
from server.errors import N_, Invalid
from server.exports import bundle
from server.manage import forbid, require
from server.manage.ledger import signing_key
from server.scoring.days import day_bounds_utc
from server.storage import exports as store
from server.storage import org, write_transaction
from server.storage.accounts import subtree_ids

FORMATS = ("csv", "jsonl", "xlsx")
FLAGGED = ("include", "exclude", "only")
KINDS = {"votes": "votes.export", "audit": "audit.export"}
DAY_RULE = N_("Not a date like 2026-09-02.")


@dataclasses.dataclass
class Prepared:
    """An export checked and resolved: ready to ``run``."""

    kind: str
    criteria: dict
    filters: dict
    fmt: str
    bom: bool
    hash_tickets: bool

    def file_name(self):
        return bundle.file_name(self.kind)


def prepare_votes(db, actor, settings, filters):
    """Check ``filters`` (``from``, ``to``, ``unit``, ``staff``, ``device``, ``flagged``, ``hash_tickets``,
    ``bom``, ``format``) for ``actor``; ``Invalid`` names the fields, ``Forbidden`` a unit out of scope."""
    require(actor, "votes.export")
    signing_key(settings)  # the manifest is signed: no key, a clear error before the download starts
    errors = {}
    fmt, bom, start, end = _common(filters, settings, errors)
    flagged = filters.get("flagged") or "include"
    if flagged not in FLAGGED:
        errors["flagged"] = [N_("One of include, exclude, only.")]
    codes = {name: (filters.get(name) or None) for name in ("unit", "staff", "device")}
    found = store.resolve(db, **codes)
    for name, message in (("unit", N_("No unit with this code.")),
                          ("staff", N_("No staff member with this code.")),
                          ("device", N_("No device with this id."))):
        if codes[name] is not None and found.get(name) is None:
            errors[name] = [message]
    if errors:
        raise Invalid(next(iter(errors.values()))[0], errors)
    scope = actor.scope(db, "votes.export")
    units = None
    if codes["unit"] is not None:
        if scope is not None and found["unit"] not in scope:
            raise forbid("votes.export")
        units = subtree_ids(db, [found["unit"]])
    criteria = {"scope": scope, "units": units, "staff_id": found.get("staff"), "device_id": found.get("device"),
                "flagged": flagged, "start": start, "end": end}
    recorded = {"from": filters.get("from") or None, "to": filters.get("to") or None, **codes, "flagged": flagged}
    return Prepared("votes", criteria, recorded, fmt, bom, bool(filters.get("hash_tickets")))


AUDIT_FILTERS = ("actor", "action", "object_type")


def prepare_audit(db, actor, settings, filters):
    """The audit log of ``actor``'s scope (``from``, ``to`` on the entry's time; ``actor``, ``action``,
    ``object_type`` as on the audit page; ``bom``, ``format``)."""
    require(actor, "audit.export")
    signing_key(settings)
    errors = {}
    fmt, bom, start, end = _common(filters, settings, errors)
    if errors:
        raise Invalid(next(iter(errors.values()))[0], errors)
    # The audit page's own filters, so its export holds what the page shows.
    picked = {name: filters.get(name) or None for name in AUDIT_FILTERS}
    criteria = {"scope": actor.scope(db, "audit.export"), "start": start, "end": end, **picked}
    recorded = {"from": filters.get("from") or None, "to": filters.get("to") or None, **picked}
    return Prepared("audit", criteria, recorded, fmt, bom, False)


def _common(filters, settings, errors):
    fmt = filters.get("format") or "csv"
    if fmt not in FORMATS:
        errors["format"] = [N_("One of csv, jsonl, xlsx.")]
    days = {}
    for name in ("from", "to"):
        text = filters.get(name) or None
        if text is not None:
            try:
                days[name] = dt.date.fromisoformat(text).isoformat()
                if len(text) != 10:
                    raise ValueError(text)
            except (TypeError, ValueError):
                errors[name] = [DAY_RULE]
    if "from" in days and "to" in days and days["from"] > days["to"]:
        errors["to"] = [N_("The last day comes before the first.")]
    start = end = None
    if not errors:
        if "from" in days:
            start = day_bounds_utc(days["from"], days["from"], settings["TIMEZONE"])[0]
        if "to" in days:
            end = day_bounds_utc(days["to"], days["to"], settings["TIMEZONE"])[1]
    return fmt, bool(filters.get("bom")), start, end


def run(db, actor, settings, prepared, out):
    """Write the bundle to ``out`` (a binary file object, or ``bundle.FolderTarget``), yielding progress.

    Yields ``(done, total)`` (source row ids scanned, or None between
    steps) and returns the manifest. The audit entry is written at the end,
    or when the caller stops early (a download cut off: ``complete`` false).
    """
    writer = bundle.Export(db, settings, prepared.kind, prepared.criteria, prepared.filters, prepared.fmt,
                           prepared.bom, prepared.hash_tickets, out)
    complete = False
    try:
        manifest = yield from writer.run()
        complete = True
        return manifest
    finally:
        counts = writer.counts
        checkpoint = writer.manifest["checkpoint"] if writer.manifest else None
        with write_transaction(db):
            audit.record(db, actor, "export", prepared.kind, after={
                "filters": prepared.filters, "format": prepared.fmt, "tickets": "hmac-sha256"
                if prepared.hash_tickets else "plain", "counts": counts, "checkpoint": checkpoint,
                "complete": complete})


def export_votes(db, actor, settings, filters, out, progress=None):
    """Write a votes bundle to ``out``; ``progress(done, total)`` is called as it goes. Returns the manifest."""
    return drive(run(db, actor, settings, prepare_votes(db, actor, settings, filters), out), progress)


def export_audit(db, actor, settings, filters, out, progress=None):
    """Write an audit-log bundle to ``out``, like ``export_votes``."""
    return drive(run(db, actor, settings, prepare_audit(db, actor, settings, filters), out), progress)


def stream(db, actor, settings, prepared):
    """The bundle's zip as an iterator of bytes (a streamed download), a chunk of rows at a time."""
    pipe = bundle.Pipe()
    steps = run(db, actor, settings, prepared, pipe)
    try:
        for _ in steps:
            data = pipe.take()
            if data:
                yield data
        data = pipe.take()
        if data:
            yield data
    finally:
        steps.close()


def drive(steps, progress=None):
    """Run ``run``'s steps to the end, calling ``progress(done, total)``; returns the manifest."""
    while True:
        try:
            step = next(steps)
        except StopIteration as done:
            return done.value
        if progress and step is not None:
            progress(*step)


def units_for(db, actor):
    """The units an actor may filter a votes export by (its ``votes.export`` scope), by code."""
    require(actor, "votes.export")
    return org.list_units(db, actor.scope(db, "votes.export"))

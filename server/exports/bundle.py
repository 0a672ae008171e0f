"""An export bundle: the rows, what proves them, and a signed manifest, as one zip or a folder.

The layout is docs/verify.md's (and the issue 10 contract's §5): the rows
file (``votes.csv|jsonl|xlsx`` or ``audit.…``), for votes ``incidents.…``,
``devices.json`` and ``sequence.json``; ``checkpoints.json`` and
``proof.txt``; then ``manifest.json`` and ``manifest.sig``, written last
because the manifest holds every other file's sha256, size and row count.

Memory stays flat whatever the size. Rows come from the database a keyset
chunk at a time (server/storage/exports.py) and go straight into the file;
the leaf indices the proof needs are kept as runs in a temporary file, not a
list (an unfiltered export is one run, handed to the log as a ``range``);
``sequence.json`` is written as its ranges are read. A zip is written to any
file object, seekable or not (an HTTP response: entries then carry data
descriptors), with zip64 for entries of unknown size. The writer is a
generator: it yields after every chunk, so a caller streaming the bytes
(``Pipe``) takes what was written so far and memory never holds more than a
chunk, and the CLI moves its progress bar.

Speed (``make bench``, bench/export.py): a votes CSV is written by SQLite a
chunk of lines per statement (sql_csv.py), checked against and, for a chunk
it cannot write exactly, replaced by the csv module's; the proof of long runs
of rows is written a block of the tree at a time (proof.py), for an export of
every row in a thread beside the CSV (``proof.Ahead``). Both are tested
byte for byte against the reference paths (``FAST = False``).

Choices where the contract left room (the verifier, tools/verify.py, reads these):

- ``manifest.sig`` is the base64 signature followed by one ``\\n``.
- ``manifest.json`` ``filters`` holds every filter name (``from``, ``to``, ``unit``,
  ``staff``, ``device``, ``flagged``), null when not given, ``flagged`` defaulting to
  ``include``; kind ``audit`` has ``from``, ``to``. ``counts`` of kind ``audit`` is
  ``{"audit": n}``.
- ``files[name].rows``: data rows (header not counted) of the rows and incidents
  files, the devices in ``devices.json``, the lines of ``proof.txt``; null for
  ``sequence.json`` and ``checkpoints.json``.
- ``incidents`` are every ``votes``-stream incident of the devices with an exported
  row, whatever their date (a gap before the period costs a line, a missing one an
  alarm), ordered by device then id.
- ``withheld`` ranges hold only seqs that exist on the server: a missing seq between
  two withheld ones splits the range (the verifier must find its incident).
- ``consistency`` has an entry for every listed checkpoint, the covering one included
  (an empty proof, as from size 0).
- XLSX has no BOM (``bom`` in the manifest says what was asked for).
"""

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import os
import struct
import tempfile
import zipfile

from server.exports import formats, proof, sql_csv, tickets
from server.ledger import keys, log
from server.storage import connect
from server.storage import exports as store
from server.storage.votes import stored_flags
from server.version import __version__

FORMAT_VERSION = 1
MANIFEST_DOMAIN = b"hailong-manifest-v1\n"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
VOTE_COLUMNS = ("leaf_index", "vote_id", "device", "seq", "counter", "staff", "unit", "counter_unit", "rating",
                "reasons", "ticket", "local_time", "received_at", "counted_at", "time_corrected",
                "clock_offset_ms", "scale_version", "flags", "review", "signature")
VOTE_JSON = ("reasons", "flags", "review")
VOTE_NUMBERS = ("leaf_index", "seq", "rating", "clock_offset_ms", "scale_version")
INCIDENT_COLUMNS = ("id", "device", "stream", "kind", "seq", "item_uuid", "digest", "detail", "created_at",
                    "resolved_at", "counter", "staff")
INCIDENT_NUMBERS = ("id", "seq")
AUDIT_COLUMNS = store.AUDIT_COLUMNS
AUDIT_NUMBERS = ("leaf_index", "id", "unit_id")
# Stored, not deflated: CPU is what an export is short of. Measured on 300,000 votes (CSV, one 2-core
# machine, busy): deflate at level 1 took 11.2 s for a 40 MB zip, stored 7.7 s for 121 MB. An auditor
# who wants it smaller zips it again; ZipTarget(compression=zipfile.ZIP_DEFLATED) is one argument away.
COMPRESSION, COMPRESS_LEVEL = zipfile.ZIP_STORED, 1
YIELD_LINES = 20_000
FAST = True  # see Export
_EMPTY = []


class Measured(io.RawIOBase):
    """A write-only stream that passes bytes on and keeps their sha256 and count."""

    def __init__(self, raw):
        super().__init__()
        self._raw, self._sha = raw, hashlib.sha256()
        self.bytes = 0

    def writable(self):
        return True

    def write(self, data):
        self._sha.update(data)
        self.bytes += len(data)
        self._raw.write(data)
        return len(data)

    def facts(self, rows=None):
        return {"sha256": self._sha.hexdigest(), "bytes": self.bytes, "rows": rows}


class Pipe:
    """A non-seekable sink for a streamed download: what was written since the last ``take``."""

    def __init__(self):
        self._parts = []

    def write(self, data):
        self._parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        data, self._parts = b"".join(self._parts), []
        return data


class ZipTarget:
    """Entries of a zip written to ``out`` (any binary file object; seeking is not needed)."""

    def __init__(self, out, compression=COMPRESSION):
        self._zip = zipfile.ZipFile(out, "w", compression=compression, compresslevel=COMPRESS_LEVEL,
                                    allowZip64=True)
        self._compression = compression

    def open(self, name, large=False, stored=False):
        info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED if stored else self._compression
        info.external_attr = 0o644 << 16
        return self._zip.open(info, "w", force_zip64=large)

    def close(self):
        self._zip.close()


class FolderTarget:
    """The same files in a folder (made if missing; refused if it holds anything)."""

    def __init__(self, path):
        if os.path.isdir(path) and os.listdir(path):
            raise FileExistsError(f"{path} is not empty: give an empty or new folder for the bundle")
        os.makedirs(path, exist_ok=True)
        self.path = path

    def open(self, name, large=False, stored=False):
        return open(os.path.join(self.path, name), "wb")

    def close(self):
        pass


def target_for(out):
    """A folder for ``FolderTarget``s, a zip for anything else (a file object)."""
    return out if isinstance(out, FolderTarget) else ZipTarget(out)


class _Runs:
    """Ascending leaf indices kept as runs ``[start, end)`` in a temporary file: flat memory at any size."""

    _PAIR = struct.Struct("<qq")

    def __init__(self):
        self._file = tempfile.TemporaryFile()
        self._start = self._end = None
        self.runs = 0

    def add(self, index):
        if index == self._end:
            self._end += 1
            return
        self._flush()
        self._start, self._end = index, index + 1

    def add_run(self, start, end):
        """Indices ``start`` to ``end - 1`` at once (above every index added so far)."""
        if start == self._end:
            self._end = end
            return
        self._flush()
        self._start, self._end = start, end

    def add_indices(self, indices):
        """A chunk's indices: a ``range`` as one run, anything else one by one."""
        if isinstance(indices, range):
            if indices:
                self.add_run(indices.start, indices.stop)
            return
        add = self.add
        for index in indices:
            add(index)

    def listed(self, limit):
        """The runs as ``[(start, end), ...]`` when there are at most ``limit``, else None."""
        self._flush()
        self._start = self._end = None
        if self.runs > limit:
            return None
        self._file.seek(0)
        return [tuple(pair) for pair in self._PAIR.iter_unpack(self._file.read(self._PAIR.size * self.runs))]

    def _flush(self):
        if self._start is not None:
            self._file.write(self._PAIR.pack(self._start, self._end))
            self.runs += 1

    def indices(self):
        """For ``log.proof_nodes``: a ``range`` when the rows are one run, else a stream read back from the file."""
        self._flush()
        self._start = self._end = None
        if self.runs == 1:
            self._file.seek(0)
            start, end = self._PAIR.unpack(self._file.read(self._PAIR.size))
            return range(start, end)
        return self._stream()

    def _stream(self):
        self._file.seek(0)
        while True:
            block = self._file.read(self._PAIR.size * 4096)
            if not block:
                return
            for start, end in self._PAIR.iter_unpack(block):
                yield from range(start, end)

    def close(self):
        self._file.close()


def covering_checkpoint(db, settings, tree):
    """The tree caught up, and its latest checkpoint if that covers it; else a new one (trigger ``export``)."""
    log.catch_up(db, tree, chunk=settings["LOG_CHUNK_LEAVES"])
    latest = log.latest_checkpoint(db, tree)
    if latest is None or latest["size"] < log.tree_state(db, tree)["size"]:
        latest = log.publish(db, settings, tree, "export")
    return latest


def file_name(kind, now=None):
    moment = now or dt.datetime.now(dt.timezone.utc)
    return f"hailong-{kind}-{moment.strftime('%Y%m%dT%H%M%SZ')}.zip"


# --- The writer ----------------------------------------------------------------


class Export:
    """One bundle being written: ``run()`` is a generator yielding ``(done, total)`` and returning the manifest.

    ``criteria`` is what server/storage/exports.py filters by; ``filters``
    what the manifest records (as given); ``kind`` ``votes`` or ``audit``.
    ``fast`` (``FAST`` unless given) lets SQLite write a votes CSV (server/exports/sql_csv.py)
    and long runs of rows take the block-wise proof (server/exports/proof.py);
    False keeps to the csv module and ``log.proof_nodes``, the reference the
    fast paths are tested against.
    """

    def __init__(self, db, settings, kind, criteria, filters, fmt, bom, hash_tickets, out, fast=None):
        self.db, self.settings, self.kind = db, settings, kind
        self.criteria, self.filters = criteria, filters
        self.fmt, self.bom, self.hash_tickets = fmt, bom, hash_tickets
        self.out, self.fast = out, FAST if fast is None else fast
        self.files, self.counts = {}, {}
        self.manifest = None

    def run(self):
        db, tree = self.db, self.kind
        key = keys.load_key(self.settings["INSTANCE"])
        checkpoint = covering_checkpoint(db, self.settings, tree)
        size = checkpoint["size"]
        up_to = store.leaf_row_id(db, tree, size - 1) if size else 0
        target = target_for(self.out)
        runs = _Runs()
        ahead = self._proof_ahead(size)
        try:
            if self.kind == "votes":
                # The devices with an exported row, known before the rows: one grouped scan, no set kept per row.
                bounds = store.sequence_bounds(db, self.criteria, up_to)
                devices = {device for device, (_, _, exported) in bounds.items() if exported}
                yield from self._votes(target, up_to, runs)
                self.counts["devices"] = len(devices)
                yield from self._incidents(target, devices)
                self._devices(target, devices)
                yield from self._sequence(target, up_to, devices, bounds)
            else:
                yield from self._audit(target, up_to, runs)
            yield from self._checkpoints(target, checkpoint)
            yield from self._proof(target, runs, size, ahead)
            self.manifest = self._manifest(key, checkpoint)
            body = json.dumps(self.manifest, indent=1, ensure_ascii=False).encode("utf-8")
            with target.open(MANIFEST) as handle:
                handle.write(body)
            signature = key.sign(MANIFEST_DOMAIN + body).signature
            with target.open(SIGNATURE) as handle:
                handle.write(base64.b64encode(signature) + b"\n")
            target.close()
        finally:
            runs.close()
            if ahead is not None:
                ahead.close()
        yield up_to, up_to
        return self.manifest

    # -- files --

    def _rows_file(self, target, stem, columns, json_columns, numbers, title):
        """``(entry, measured stream, row writer)`` for a table in this export's format."""
        name = f"{stem}.{self.fmt}"
        if self.fmt == "xlsx":
            # openpyxl writes the whole workbook at save(): into a temporary file, copied in chunks after.
            spool = tempfile.TemporaryFile()
            return name, spool, formats.writer("xlsx", spool, columns, json_columns, numbers, title=title)
        entry = target.open(name, large=True)
        measured = Measured(entry)
        return name, (entry, measured), formats.writer(self.fmt, measured, columns, json_columns, numbers,
                                                       bom=self.bom)

    def _finish_rows(self, target, name, handle, writer):
        rows = writer.close()
        if self.fmt != "xlsx":
            entry, measured = handle
            entry.close()
            self.files[name] = measured.facts(rows)
            return rows
        handle.seek(0)
        with target.open(name, large=True, stored=True) as entry:
            measured = Measured(entry)
            while True:
                block = handle.read(1 << 20)
                if not block:
                    break
                measured.write(block)
                yield None
        handle.close()
        self.files[name] = measured.facts(rows)
        return rows

    def _votes(self, target, up_to, runs):
        codes = store.codes(self.db)
        fast_csv = self.fast and self.fmt == "csv" and not self.hash_tickets and store.writes_csv(self.db)
        cells = sql_csv.code_cells(codes) if fast_csv else None
        if cells is not None:
            yield from self._votes_sql_csv(target, up_to, runs, codes, cells)
            return
        name, handle, writer = self._rows_file(target, "votes", VOTE_COLUMNS, VOTE_JSON, VOTE_NUMBERS, "votes")
        write, add = writer.write, runs.add
        for rows, last in self._vote_rows(codes, 0, up_to):
            for row in rows:
                add(row[0])
                write(row)
            yield last, up_to
        self.counts["votes"] = yield from _result(self._finish_rows(target, name, handle, writer))

    def _vote_rows(self, codes, after, up_to):
        """``(rows, last_id)`` per chunk of the votes with ``after < id <= up_to``, rows in ``VOTE_COLUMNS`` order."""
        units, counters, staff = codes["unit"], codes["counter"], codes["staff"]
        ticket = tickets.hasher(self.settings["INSTANCE"]) if self.hash_tickets else None
        for rows, reviews, last in store.vote_chunks(self.db, self.criteria, up_to, after=after):
            yield [(idx, uuid, device, seq, counters[counter_id], staff[staff_id], units.get(unit_id),
                    units.get(counter_unit_id), rating, reasons or "[]",
                    ticket(ticket_text) if ticket else ticket_text, local_time, received_at, counted_at,
                    corrected == 1, offset, scale, sorted(stored_flags(flags)) if flags else _EMPTY,
                    reviews.get(vote_id, _EMPTY), signature)
                   for (idx, vote_id, uuid, device, seq, counter_id, staff_id, unit_id, counter_unit_id, rating,
                        reasons, ticket_text, local_time, received_at, counted_at, corrected, offset, scale, flags,
                        signature) in rows], last

    def _votes_sql_csv(self, target, up_to, runs, codes, cells):
        """votes.csv written by SQLite a chunk at a time; a chunk it cannot write exactly by the csv module."""

        def python_chunk(after, last):
            rows = [row for part, _ in self._vote_rows(codes, after, last) for row in part]
            return formats.csv_text(rows, VOTE_COLUMNS, VOTE_JSON, VOTE_NUMBERS), [row[0] for row in rows]

        name = "votes.csv"
        with target.open(name, large=True) as entry:
            measured = Measured(entry)
            measured.write(formats.csv_header(VOTE_COLUMNS, self.bom).encode("utf-8"))
            rows = yield from sql_csv.write_votes(self.db, self.criteria, up_to, cells, measured, runs, python_chunk)
        self.files[name] = measured.facts(rows)
        self.counts["votes"] = rows

    def _incidents(self, target, devices):
        name, handle, writer = self._rows_file(target, "incidents", INCIDENT_COLUMNS, (), INCIDENT_NUMBERS,
                                               "incidents")
        for n, row in enumerate(store.incidents_of(self.db, devices), 1):
            writer.write(row)
            if n % YIELD_LINES == 0:
                yield None
        self.counts["incidents"] = yield from _result(self._finish_rows(target, name, handle, writer))

    def _devices(self, target, devices):
        rows = store.devices_of(self.db, devices)
        self._json_file(target, "devices.json", rows, len(rows))

    def _json_file(self, target, name, value, rows=None):
        with target.open(name) as entry:
            measured = Measured(entry)
            measured.write(json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8") + b"\n")
        self.files[name] = measured.facts(rows)

    def _sequence(self, target, up_to, devices, bounds):
        """``{device: {"first_seq", "last_seq", "withheld": [[from, to], ...]}}``, written as it is read."""
        withheld = store.withheld_ranges(self.db, self.criteria, up_to) or iter(())
        pending = next(withheld, None)
        with target.open("sequence.json", large=True) as entry:
            out = Measured(entry)
            out.write(b"{")
            for n, device in enumerate(sorted(devices)):
                first, last, _ = bounds[device]
                out.write(("," if n else "") .encode() + b"\n " + json.dumps(device).encode("utf-8")
                          + f': {{"first_seq": {first}, "last_seq": {last}, "withheld": ['.encode())
                ranges = 0
                while pending is not None and pending[0] <= device:
                    if pending[0] == device:
                        out.write(f"{', ' if ranges else ''}[{pending[1]}, {pending[2]}]".encode())
                        ranges += 1
                        if ranges % YIELD_LINES == 0:
                            yield None
                    pending = next(withheld, None)
                out.write(b"]}")
            out.write(b"\n}\n")
        self.files["sequence.json"] = out.facts(None)

    def _audit(self, target, up_to, runs):
        name, handle, writer = self._rows_file(target, "audit", AUDIT_COLUMNS, (), AUDIT_NUMBERS, "audit")
        for rows, last in store.audit_chunks(self.db, self.criteria, up_to):
            for row in rows:
                runs.add(row[0])
                writer.write(row)
            yield last, up_to
        self.counts["audit"] = yield from _result(self._finish_rows(target, name, handle, writer))

    def _checkpoints(self, target, covering):
        listed, after = [], None
        while True:
            page = log.checkpoints(self.db, self.kind, after_id=after, limit=1000, newest_first=False)
            listed += [row for row in page if row["id"] <= covering["id"]]
            if len(page) < 1000 or page[-1]["id"] >= covering["id"]:
                break
            after = page[-1]["id"]
            yield None
        size = covering["size"]
        consistency = []
        for row in listed:
            proof = [] if row["size"] in (0, size) else log.consistency(self.db, self.kind, row["size"], size)
            consistency.append({"from_size": row["size"], "to_size": size,
                                "proof": [base64.b64encode(h).decode("ascii") for h in proof]})
        self._json_file(target, "checkpoints.json", {
            "tree": self.kind,
            "checkpoints": [{"id": row["id"], "size": row["size"], "note": row["note"]} for row in listed],
            "consistency": consistency,
        })

    def _proof_ahead(self, size):
        """proof.txt begun in a thread now, when the rows will be every leaf under the checkpoint (no filter)."""
        if not (self.fast and self.kind == "votes" and size > 1 and store.takes_every_row(self.criteria)):
            return None
        path = store.database_file(self.db)
        return proof.Ahead(lambda: connect(path), self.kind, [(0, size)], size) if path else None

    def _proof(self, target, runs, size, ahead=None):
        listed = runs.listed(proof.MAX_RUNS) if self.fast else None
        if ahead is not None and listed == [(0, size)]:
            lines, sha256, count = ahead.wait()
            with target.open("proof.txt", large=True) as entry:
                yield from ahead.copy_to(entry)
            self.files["proof.txt"] = {"sha256": sha256, "bytes": count, "rows": lines}
            return
        if listed is not None:
            with target.open("proof.txt", large=True) as entry:
                out = Measured(entry)
                pieces = proof.proof_text(self.db, self.kind, listed, size)
                while True:
                    try:
                        text = next(pieces)
                    except StopIteration as done:
                        lines = done.value
                        break
                    out.write(text.encode("ascii"))
                    yield None
            self.files["proof.txt"] = out.facts(lines)
            return
        lines = 0
        with target.open("proof.txt", large=True) as entry:
            out = Measured(entry)
            buffer = []
            b64 = binascii.b2a_base64
            for start, end, digest in log.proof_nodes(self.db, self.kind, runs.indices(), size):
                buffer.append(f"{start} {end} {b64(digest, newline=False).decode('ascii')}\n")
                if len(buffer) >= YIELD_LINES:
                    lines += len(buffer)
                    out.write("".join(buffer).encode("ascii"))
                    buffer = []
                    yield None
            lines += len(buffer)
            out.write("".join(buffer).encode("ascii"))
        self.files["proof.txt"] = out.facts(lines)

    def _manifest(self, key, checkpoint):
        name = self.settings["LOG_NAME"]
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "software_version": __version__,
            "log_name": name,
            "server_public_key": keys.public_key_b64(key),
            "server_key_id": keys.key_id(name, key).hex(),
            "filters": self.filters,
            "tickets": "hmac-sha256" if self.hash_tickets else "plain",
            "format": self.fmt,
            "bom": self.bom,
            "checkpoint": {"id": checkpoint["id"], "size": checkpoint["size"],
                           "root": base64.b64encode(bytes(checkpoint["root"])).decode("ascii")},
            "counts": self.counts,
            "files": self.files,
        }


def _result(value):
    """``yield from`` a step that may be a plain value (CSV, JSON Lines) or a generator (XLSX's copy)."""
    if hasattr(value, "__next__"):
        return (yield from value)
    return value


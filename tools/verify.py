#!/usr/bin/env python3
"""Check a hailong export bundle without the server: ``python verify.py BUNDLE [--checkpoint FILE]... [--key KEY]``.

One file, needing Python 3.11+ and PyNaCl only (``pip install pynacl``), so an
auditor can copy it alone and read all of it. It checks (docs/verify.md says
how, byte by byte, so that anyone can write their own):

- the manifest's signature, by the server's key (``--key``: the string
  ``hailong keys show`` prints; without it, the key the bundle names itself,
  said as a warning), and every file's SHA-256, size and row count;
- every signed checkpoint note in ``checkpoints.json``, the consistency of
  each with the covering checkpoint, and of each checkpoint you kept from
  earlier (``--checkpoint FILE``): a history rewritten since shows here;
- every vote's device signature (Ed25519, the tablet's key in devices.json);
- that the rows are leaves of the tree under the covering checkpoint
  (RFC 6962 hashing): the root is rebuilt from the rows and ``proof.txt`` in
  one pass; when it does not match, each row's own audit path names the rows
  that fail;
- each device's sequence numbers: every one between its first and last is a
  row, left out by the filters, or named by a sync incident.

Report: one line per finding, naming the file and line (leaf_index, vote_id,
device, seq) or the checkpoint (size, time), then a summary. Exit status 0
when everything holds, 1 when something fails, 2 when the bundle cannot be
read at all.
"""

import argparse
import base64
import binascii
import collections
import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
import zlib

import nacl.bindings
import nacl.exceptions
import nacl.signing

MANIFEST_DOMAIN = b"hailong-manifest-v1\n"
VOTE_DOMAIN = b"hailong-vote-v1\n"
AUDIT_DOMAIN = b"hailong-audit-v1\n"
# The ingest flags that are marks the tablet signed (device_client/protocol.py VOTE_MARKS).
VOTE_MARKS = ("rapid_repeat",)
HASHED_TICKET = "hmac-sha256:"
EMPTY_ROOT = hashlib.sha256(b"").digest()

VOTE_COLUMNS = ("leaf_index", "vote_id", "device", "seq", "counter", "staff", "unit", "counter_unit", "rating",
                "reasons", "ticket", "local_time", "received_at", "counted_at", "time_corrected",
                "clock_offset_ms", "scale_version", "flags", "review", "signature")
INCIDENT_COLUMNS = ("id", "device", "stream", "kind", "seq", "item_uuid", "digest", "detail", "created_at",
                    "resolved_at", "counter", "staff")
AUDIT_COLUMNS = ("leaf_index", "id", "at", "actor_kind", "actor", "address", "action", "object_type",
                 "object_id", "unit_id", "before", "after")
# Per table: its columns, the ones that are numbers, the ones that are JSON text, the ones that are booleans.
TABLES = {
    "votes": (VOTE_COLUMNS, {"leaf_index", "seq", "rating", "clock_offset_ms", "scale_version"},
              {"reasons", "flags", "review"}, {"time_corrected"}),
    "incidents": (INCIDENT_COLUMNS, {"id", "seq"}, set(), set()),
    "audit": (AUDIT_COLUMNS, {"leaf_index", "id", "unit_id"}, set(), set()),
}
# CSV cells starting with one of these were written with one more leading apostrophe (contract §5).
INERT = ("=", "+", "-", "@", "\t", "\r", "'")

_JCS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def jcs(value):
    """RFC 8785 for the values a bundle holds (strings, integers, booleans, null, lists, objects)."""
    return _JCS.encode(value).encode("utf-8")


class Unreadable(Exception):
    """The bundle cannot be read at all (exit status 2)."""


# What reading a damaged file can raise (a zip member whose bytes were changed: CRC, deflate, header).
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


# --- RFC 6962 / RFC 9162 Merkle trees -----------------------------------------------------------------------


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n):
    """The largest power of two smaller than ``n`` (n ≥ 2): where MTH(D[n]) splits."""
    return 1 << ((n - 1).bit_length() - 1)


def audit_path_ranges(index, size):
    """The leaf ranges [start, end) of RFC 9162 PATH(index, D[size]), leaf to root."""
    ranges, start, end = [], 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _chain(seed, proof, index, inner):
    for i, h in enumerate(proof[:inner]):
        seed = node_hash(h, seed) if (index >> i) & 1 else node_hash(seed, h)
    for h in proof[inner:]:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion(leaf, index, size, proof):
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or None when it has the wrong length."""
    if not 0 <= index < size:
        return None
    inner = (index ^ (size - 1)).bit_length()
    if len(proof) != inner + bin(index >> inner).count("1"):
        return None
    return _chain(leaf, proof, index, inner)


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 §2.1.4.2: True when the tree of ``size2`` extends the one of ``size1``."""
    if size1 > size2 or size1 < 0:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof and root1 == EMPTY_ROOT
    if not proof:
        return False
    index = size1 - 1
    inner = (index ^ (size2 - 1)).bit_length()
    border = bin(index >> inner).count("1")
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    if size1 == 1 << shift:
        seed, rest = root1, list(proof)
    else:
        seed, rest = proof[0], list(proof[1:])
    if len(rest) != inner + border:
        return False
    mask = index >> shift
    first = seed
    for i, h in enumerate(rest[:inner]):
        if (mask >> i) & 1:
            first = node_hash(h, first)
    for h in rest[inner:]:
        first = node_hash(h, first)
    return first == root1 and _chain(seed, rest, mask, inner) == root2


def decomposition(size):
    """The complete subtrees [start, end) that make up [0, size), left to right (each a node of any larger tree)."""
    out, start = [], 0
    while start < size:
        width = 1 << ((size - start).bit_length() - 1)
        out.append((start, start + width))
        start += width
    return out


def fold_root(hashes):
    """MTH of [0, size) from the hashes of its decomposition (left to right)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


# --- Keys and signed notes (C2SP signed-note, tlog-checkpoint) -----------------------------------------------


def key_id(name, public_key):
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key).digest()[:4]


def parse_key(text):
    """``(name or None, 32-byte public key)`` from a verifier key ``name+keyid+base64`` or a plain base64 key.

    ``text`` may also be the path of a file holding either.
    """
    text = text.strip()
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as handle:
            text = handle.read().strip()
    parts = text.split("+", 2)  # a name has no "+", base64 may
    if len(parts) == 3 and re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        name, hex_id, encoded = parts
        raw = base64.b64decode(encoded, validate=True)
        if len(raw) != 33 or raw[0] != 1:
            raise ValueError("the key's last part is not base64 of 0x01 and a 32-byte Ed25519 public key")
        if key_id(name, raw[1:]).hex() != hex_id:
            raise ValueError("the key's id does not match its name and public key")
        return name, raw[1:]
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("a key is `name+keyid+base64` (as `hailong keys show` prints) or base64 of 32 bytes")
    return None, raw


def verify_ed25519(public_key, message, signature):
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
        return False


def parse_note(text):
    """The fields of a checkpoint note; raises ValueError saying what is wrong with its shape.

    Returns ``{"body": bytes, "origin", "size", "root": bytes, "time", "signatures": [(name, key_id, sig)]}``.
    """
    if not text.endswith("\n"):
        raise ValueError("a note ends with a newline")
    cut = text.rfind("\n\n")
    if cut < 0:
        raise ValueError("a note has a blank line between its body and its signatures")
    body, signatures = text[: cut + 1], text[cut + 2:]
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise ValueError("a checkpoint's body has an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise ValueError(f"size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        root = b""
    if len(root) != 32:
        raise ValueError("the root is not base64 of 32 bytes")
    time = next((line[5:] for line in lines[3:] if line.startswith("time ")), None)
    found = []
    for line in signatures.split("\n")[:-1]:
        match = re.fullmatch(r"\u2014 (\S+) ([A-Za-z0-9+/=]+)", line)
        if not match:
            raise ValueError(f"signature line {line!r} is not `— NAME BASE64`")
        raw = base64.b64decode(match.group(2))
        if len(raw) != 68:
            raise ValueError("a signature is base64 of a 4-byte key id and 64 bytes")
        found.append((match.group(1), raw[:4], raw[4:]))
    if not found:
        raise ValueError("the note has no signature")
    return {"body": body.encode("utf-8"), "origin": origin, "size": int(size_text), "root": root, "time": time,
            "signatures": found}


def note_problem(note, name, public_key):
    """None when the note is signed by the key ``name`` + ``public_key``; else why not."""
    wanted = key_id(name, public_key)
    mine = [sig for who, kid, sig in note["signatures"] if who == name and kid == wanted]
    if not mine:
        ids = ", ".join(f"{who}+{kid.hex()}" for who, kid, _ in note["signatures"])
        return f"not signed by the server key {name}+{wanted.hex()} (signed by {ids})"
    if not any(verify_ed25519(public_key, note["body"], sig) for sig in mine):
        return "its signature does not verify: the note was changed after signing, or signed by another key"
    return None


# --- Reading a bundle ----------------------------------------------------------------------------------------


class Bundle:
    """A bundle's files, from a zip or a folder."""

    def __init__(self, path):
        self.path = path
        if os.path.isdir(path):
            self.zip = None
            self.names = sorted(name for name in os.listdir(path) if os.path.isfile(os.path.join(path, name)))
        elif os.path.isfile(path):
            try:
                self.zip = zipfile.ZipFile(path)
                self.names = sorted(info.filename for info in self.zip.infolist() if not info.is_dir())
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise Unreadable(f"{path} is not a readable zip file ({exc})") from None
        else:
            raise Unreadable(f"{path}: no such file or folder")

    def has(self, name):
        return name in self.names

    def open(self, name):
        if self.zip is None:
            return open(os.path.join(self.path, name), "rb")
        return self.zip.open(name)

    def read(self, name):
        with self.open(name) as handle:
            return handle.read()


class Hashing(io.RawIOBase):
    """A read-only stream that hashes and counts what passes through it (one read per file)."""

    def __init__(self, stream):
        self.stream, self.sha, self.bytes = stream, hashlib.sha256(), 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        self.sha.update(data)
        self.bytes += len(data)
        return len(data)

    def drain(self):
        """Hash what the reader left unread; returns (sha256 hex, bytes)."""
        while True:
            data = self.stream.read(1 << 20)
            if not data:
                break
            self.sha.update(data)
            self.bytes += len(data)
        return self.sha.hexdigest(), self.bytes


class BadRow(Exception):
    pass


def _csv_rows(raw, columns, numeric, jsons, bools):
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 16), encoding="utf-8", errors="surrogateescape",
                            newline="")
    reader = csv.reader(text)
    last = 0
    try:
        header = next(reader)
    except StopIteration:
        raise BadRow("line 1: the file is empty (no header)") from None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if tuple(header) != columns:
        raise BadRow(f"line 1: header {header!r} is not {list(columns)!r}")
    last = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"line {last + 1}", BadRow(f"not CSV: {exc}")
            return
        where = f"line {last + 1}"
        last = reader.line_num
        if len(cells) != len(columns):
            yield where, BadRow(f"{len(cells)} cells, not {len(columns)}")
            continue
        values = {}
        try:
            for name, cell in zip(columns, cells):
                if cell == "":
                    values[name] = None
                elif name in numeric:
                    values[name] = _integer(cell)
                else:
                    if cell[0] == "'":
                        cell = cell[1:]
                    elif cell.startswith(INERT):
                        raise BadRow(f"{name}: a cell starting with {cell[0]!r} was not made inert")
                    values[name] = _typed(name, cell, jsons, bools)
        except BadRow as exc:
            yield where, exc
            continue
        yield where, values


def _integer(text):
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise BadRow(f"{text!r} is not a number") from None
        if not number.is_integer():
            raise BadRow(f"{text!r} is not a whole number") from None
        return int(number)


_JSON_CACHE = {}


def _typed(name, cell, jsons, bools):
    if name in jsons:
        value = _JSON_CACHE.get(cell)
        if value is None:
            try:
                value = json.loads(cell)
            except ValueError:
                raise BadRow(f"{name}: {cell[:40]!r} is not JSON") from None
            if len(_JSON_CACHE) > 4096:
                _JSON_CACHE.clear()
            if isinstance(value, list):  # lists are shared between rows: callers copy what they change
                _JSON_CACHE[cell] = value
        return value
    if name in bools:
        if cell not in ("true", "false"):
            raise BadRow(f"{name}: {cell!r} is not true or false")
        return cell == "true"
    return cell


def _jsonl_rows(raw, columns):
    stream = io.BufferedReader(raw, 1 << 16)
    for number, line in enumerate(stream, 1):
        where = f"line {number}"
        if not line.endswith(b"\n"):
            yield where, BadRow("the last line has no newline (the file was cut?)")
        try:
            values = json.loads(line)
        except ValueError as exc:
            yield where, BadRow(f"not JSON: {exc}")
            continue
        if not isinstance(values, dict) or len(values) != len(columns) or set(values) != set(columns):
            keys = list(values) if isinstance(values, dict) else type(values).__name__
            yield where, BadRow(f"keys {keys!r} are not {list(columns)!r}")
            continue
        yield where, values


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _column(ref):
    number = 0
    for char in ref:
        if "A" <= char <= "Z":
            number = number * 26 + ord(char) - 64
        else:
            break
    return number - 1


def _xml(book, name):
    """A workbook part, refused when it declares a DTD (entity expansion)."""
    handle = book.open(name)
    head = handle.peek(4096)[:4096] if hasattr(handle, "peek") else b""
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise BadRow(f"{name} declares a DTD")
    return handle


def _xlsx_rows(path, columns, numeric, jsons, bools):
    with zipfile.ZipFile(path) as book:
        rels = {}
        for _, elem in ET.iterparse(_xml(book, "xl/_rels/workbook.xml.rels")):
            if elem.tag == _RELS + "Relationship":
                target = elem.get("Target")
                rels[elem.get("Id")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
        sheets = [(elem.get("name"), rels[elem.get(_DOC_REL)])
                  for _, elem in ET.iterparse(_xml(book, "xl/workbook.xml")) if elem.tag == _MAIN + "sheet"]
        shared = []
        if "xl/sharedStrings.xml" in book.namelist():
            for _, elem in ET.iterparse(_xml(book, "xl/sharedStrings.xml")):
                if elem.tag == _MAIN + "si":
                    shared.append("".join(t.text or "" for t in elem.iter(_MAIN + "t")))
                    elem.clear()
        for sheet, part in sheets:
            first = True
            for _, elem in ET.iterparse(_xml(book, part)):
                if elem.tag != _MAIN + "row":
                    continue
                where = f"sheet {sheet!r} row {elem.get('r')}"
                cells = [None] * len(columns)
                problem = None
                for position, cell in enumerate(elem.iter(_MAIN + "c")):
                    index = _column(cell.get("r")) if cell.get("r") else position
                    kind = cell.get("t", "n")
                    if cell.find(_MAIN + "f") is not None or kind in ("str", "e"):
                        problem = f"cell {cell.get('r')} is a formula or an error, not a value"
                        continue
                    if kind == "inlineStr":
                        value = "".join(t.text or "" for t in cell.iter(_MAIN + "t"))
                    else:
                        v = cell.find(_MAIN + "v")
                        value = None if v is None else v.text
                        if value is not None and kind == "s":
                            value = shared[int(value)] if value.isdigit() and int(value) < len(shared) else None
                        elif value is not None and kind == "b":
                            value = "true" if value == "1" else "false"
                    if not 0 <= index < len(columns):
                        problem = f"a cell beyond the {len(columns)} columns ({cell.get('r')})"
                        continue
                    cells[index] = value
                elem.clear()
                if first:
                    first = False
                    if tuple(cells) != columns:
                        yield where, BadRow(f"header {cells!r} is not {list(columns)!r}")
                        break
                    continue
                if problem:
                    yield where, BadRow(problem)
                    continue
                values = {}
                try:
                    for name, cell in zip(columns, cells):
                        if cell is None or cell == "":
                            values[name] = None
                        elif name in numeric:
                            values[name] = _integer(cell)
                        else:
                            values[name] = _typed(name, cell, jsons, bools)
                except BadRow as exc:
                    yield where, exc
                    continue
                yield where, values


class Table:
    """One table file of the bundle, read once: rows as dicts, its hash and size as a by-product."""

    def __init__(self, bundle, name, table):
        self.bundle, self.name, self.rows = bundle, name, 0
        self.columns, self.numeric, self.jsons, self.bools = TABLES[table]
        self.sha256 = self.bytes = None

    def __iter__(self):
        handle = self.bundle.open(self.name)
        raw = Hashing(handle)
        try:
            if self.name.endswith(".xlsx"):
                rows = self._xlsx(raw)
            elif self.name.endswith(".jsonl"):
                rows = _jsonl_rows(raw, self.columns)
            else:
                rows = _csv_rows(raw, self.columns, self.numeric, self.jsons, self.bools)
            for where, values in rows:
                self.rows += 1
                yield where, values
        except (*READ_ERRORS, ET.ParseError, UnicodeDecodeError, KeyError, IndexError, ValueError, BadRow) as exc:
            if isinstance(exc, BadRow) and str(exc).startswith("line 1:"):
                yield "line 1", BadRow(str(exc)[8:])
            else:
                yield "", BadRow(f"cannot be read further: {exc}")
        finally:
            try:
                self.sha256, self.bytes = raw.drain()
            except (*READ_ERRORS, ValueError) as exc:
                self.sha256, self.bytes = f"unreadable ({exc})", -1
            handle.close()

    def _xlsx(self, raw):
        spool = tempfile.TemporaryFile()
        try:
            shutil.copyfileobj(raw, spool, 1 << 20)
            spool.seek(0)
            yield from _xlsx_rows(spool, self.columns, self.numeric, self.jsons, self.bools)
        finally:
            spool.close()


# --- Leaf bytes (contract §2) ----------------------------------------------------------------------------------


def vote_bytes(v):
    """``(signed message, leaf bytes)`` of a vote row: what the tablet signed, and what the log holds."""
    signed = {"id": v["vote_id"], "device": v["device"], "seq": v["seq"], "counter": v["counter"],
              "staff": v["staff"], "rating": v["rating"], "reasons": v["reasons"], "ticket": v["ticket"],
              "local_time": v["local_time"], "scale_version": v["scale_version"]}
    marks = sorted(flag for flag in v["flags"] or () if flag in VOTE_MARKS)
    if marks:
        signed["marks"] = marks
    message = VOTE_DOMAIN + jcs(signed)
    server = {"signature": v["signature"], "received_at": v["received_at"], "clock_offset_ms": v["clock_offset_ms"],
              "unit": v["unit"], "counter_unit": v["counter_unit"], "counted_at": v["counted_at"],
              "time_corrected": v["time_corrected"], "flags": v["flags"]}
    return message, message + b"\n" + jcs(server)


def audit_bytes(v):
    """The leaf bytes of an audit-log row."""
    return AUDIT_DOMAIN + jcs({name: v[name] for name in AUDIT_COLUMNS[1:]})


def ticket_hashed(v):
    return isinstance(v.get("ticket"), str) and v["ticket"].startswith(HASHED_TICKET)


# --- Findings ------------------------------------------------------------------------------------------------


class Report:
    """Findings as they are made: ``FAIL``, ``WARN`` and ``NOTE`` lines, and counts for the summary."""

    def __init__(self, out=None):
        self.out = out
        self.lines = []
        self.failures = 0
        self.counts = collections.Counter()

    def _line(self, level, where, why):
        line = f"{level} {where}: {why}" if where else f"{level} {why}"
        if self.out is not None:
            self.out(line)
        else:
            self.lines.append(line)

    def fail(self, where, why, kind="other"):
        self.failures += 1
        self.counts["failed " + kind] += 1
        self._line("FAIL", where, why)

    def warn(self, where, why):
        self.counts["warnings"] += 1
        self._line("WARN", where, why)

    def note(self, where, why):
        self._line("NOTE", where, why)

    def plain(self, text):
        if self.out is not None:
            self.out(text)
        else:
            self.lines.append(text)


def _row_where(file, where, values):
    if not isinstance(values, dict):
        return f"{file} {where}".strip()
    parts = [f"leaf_index {values.get('leaf_index')}"]
    if values.get("vote_id") is not None:
        parts.append(f"vote_id {values['vote_id']}")
    if values.get("device") is not None:
        parts.append(f"device {values['device']} seq {values.get('seq')}")
    if values.get("id") is not None and "vote_id" not in values:
        parts.append(f"id {values['id']}")
    return f"{file} {where} ({', '.join(parts)})"


class Ref:
    """Where a row is, made into words only when a finding names it (most rows never are)."""

    __slots__ = ("file", "where", "values")

    def __init__(self, file, where, values):
        self.file, self.where, self.values = file, where, values

    def __str__(self):
        return _row_where(self.file, self.where, self.values)


def _cp_where(cp):
    return f"checkpoint id {cp.get('id')} (size {cp.get('size')}, time {cp.get('time')})"


# --- Signatures, in this process or a pool -------------------------------------------------------------------

_WORKER_KEYS = {}


def _worker_init(devices):
    _WORKER_KEYS.clear()
    _WORKER_KEYS.update(devices)


def _verify_batch(batch):
    """Positions in ``batch`` of (device, message, signature) whose signature fails."""
    keys, bad = {}, []
    for position, (device, message, signature) in enumerate(batch):
        key = keys.get(device)
        if key is None:
            key = keys[device] = nacl.signing.VerifyKey(_WORKER_KEYS[device])
        try:
            key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
            bad.append(position)
    return bad


# A pool costs about 0.1 s to start: below this many rows one process is quicker.
POOL_MIN_ROWS = 8000


class Signatures:
    """Ed25519 checks, batched; with ``jobs`` > 1 and many rows, over a pool of processes."""

    BATCH = 2000

    def __init__(self, devices, jobs, expected_rows, on_bad):
        self.devices, self.on_bad = devices, on_bad
        self.batch, self.refs, self.pending = [], [], collections.deque()
        self.pool = None
        self.checked = 0
        if jobs > 1 and expected_rows >= POOL_MIN_ROWS:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self.pool = multiprocessing.get_context(method).Pool(jobs, _worker_init, (devices,))
            self.window = 4 * jobs
        else:
            _worker_init(devices)

    def add(self, device, message, signature, ref):
        self.batch.append((device, message, signature))
        self.refs.append(ref)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self):
        if not self.batch:
            return
        batch, refs = self.batch, self.refs
        self.batch, self.refs = [], []
        self.checked += len(batch)
        if self.pool is None:
            self._report(_verify_batch(batch), refs)
            return
        self.pending.append((self.pool.apply_async(_verify_batch, (batch,)), refs))
        while len(self.pending) > self.window:
            self._collect()

    def _collect(self):
        result, refs = self.pending.popleft()
        self._report(result.get(), refs)

    def _report(self, bad, refs):
        for position in bad:
            self.on_bad(refs[position])

    def finish(self):
        self._flush()
        while self.pending:
            self._collect()
        if self.pool is not None:
            self.pool.close()
            self.pool.join()

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# --- The checks ----------------------------------------------------------------------------------------------


class Verifier:
    def __init__(self, bundle, report, key=None, kept=(), jobs=1):
        self.bundle, self.report, self.key_text, self.kept_files, self.jobs = bundle, report, key, kept, jobs
        self.stats = collections.Counter()

    # The manifest and its signature -----------------------------------------------------------------------
    def manifest(self):
        if not self.bundle.has("manifest.json"):
            raise Unreadable("the bundle has no manifest.json")
        self.manifest_bytes = self.bundle.read("manifest.json")
        try:
            m = json.loads(self.manifest_bytes)
            self.kind, self.log_name, self.format = m["kind"], m["log_name"], m["format"]
            self.covering = m["checkpoint"]
            self.files = m["files"]
            if self.kind not in ("votes", "audit") or self.format not in ("csv", "jsonl", "xlsx"):
                raise ValueError(f"kind {self.kind!r} / format {self.format!r}")
            if m.get("format_version") != 1:
                raise ValueError(f"format_version {m.get('format_version')!r} is not 1")
            bundle_key = base64.b64decode(m["server_public_key"], validate=True)
            int(self.covering["size"])
            covering_root = base64.b64decode(self.covering["root"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise Unreadable(f"manifest.json cannot be read: {exc}") from None
        self.m = m
        self.covering_root = covering_root
        report = self.report
        if self.key_text:
            try:
                name, self.public_key = parse_key(self.key_text)
            except (ValueError, binascii.Error, OSError) as exc:
                raise Unreadable(f"--key: {exc}") from None
            if name is not None and name != self.log_name:
                report.fail("manifest.json", f"log_name {self.log_name!r} is not the --key's name {name!r}",
                            "manifest")
            if bundle_key != self.public_key:
                report.fail("manifest.json", "server_public_key is not the key given with --key", "manifest")
        else:
            self.public_key = bundle_key
            report.warn("manifest.json", "checked against the server key the bundle names itself (no --key): "
                        "a forger could replace both; pass the key `hailong keys show` prints with --key")
        if len(self.public_key) != 32:
            raise Unreadable("the server key is not 32 bytes")
        expected_id = key_id(self.log_name, self.public_key).hex()
        if m.get("server_key_id") != expected_id:
            report.fail("manifest.json", f"server_key_id {m.get('server_key_id')!r} is not {expected_id}",
                        "manifest")
        signature = None
        if self.bundle.has("manifest.sig"):
            # Exactly base64 and one newline: a second spelling of the same signature would go unnoticed.
            text = self.bundle.read("manifest.sig")
            try:
                signature = base64.b64decode(text.removesuffix(b"\n"), validate=True)
            except binascii.Error:
                signature = b""
            if base64.b64encode(signature) + b"\n" != text:
                signature = b""
        if signature is None:
            report.fail("manifest.sig", "missing: the manifest is not signed", "manifest")
        elif not verify_ed25519(self.public_key, MANIFEST_DOMAIN + self.manifest_bytes, signature):
            report.fail("manifest.sig", "the manifest's signature does not verify with the server key: "
                        "manifest.json was changed, or signed by another key", "manifest")
        else:
            self.stats["manifest signature good"] = 1
        listed = set(self.files) | {"manifest.json", "manifest.sig"}
        for name in self.bundle.names:
            if name not in listed:
                report.warn(name, "in the bundle but not in the manifest: not checked")

    def file_checked(self, name, sha256, size, rows=None):
        entry = self.files.get(name)
        if entry is None:
            return
        self.seen_files.add(name)
        problems = []
        if size != entry.get("bytes"):
            problems.append(f"{size} bytes, the manifest says {entry.get('bytes')}")
        if sha256 != entry.get("sha256"):
            problems.append(f"SHA-256 {sha256} is not the manifest's {entry.get('sha256')}")
        if rows is not None and entry.get("rows") is not None and rows != entry.get("rows"):
            problems.append(f"{rows} rows, the manifest says {entry.get('rows')}")
        if problems:
            self.report.fail(name, "changed since export: " + "; ".join(problems), "file")
        else:
            self.stats["files good"] += 1

    def json_file(self, name, rows=None):
        """A small JSON file of the bundle, checked against the manifest; None when missing or broken."""
        if not self.bundle.has(name):
            if name in self.files:
                self.missing_reported.add(name)
                self.report.fail(name, "missing from the bundle", "file")
            return None
        try:
            data = self.bundle.read(name)
        except READ_ERRORS as exc:
            self.report.fail(name, f"cannot be read: {exc}", "file")
            return None
        try:
            value = json.loads(data)
        except ValueError as exc:
            self.report.fail(name, f"not JSON: {exc}", "file")
            value = None
        self.file_checked(name, hashlib.sha256(data).hexdigest(), len(data),
                          len(value) if rows and isinstance(value, list) else None)
        return value

    # Checkpoints --------------------------------------------------------------------------------------------
    def checkpoints(self):
        report, tree = self.report, self.kind
        self.covering_ok = False
        self.roots_by_size = {}
        data = self.json_file("checkpoints.json")
        if not isinstance(data, dict) or not isinstance(data.get("checkpoints"), list):
            if data is not None:
                report.fail("checkpoints.json", "has no list of checkpoints", "checkpoint")
            return
        if data.get("tree") != tree:
            report.fail("checkpoints.json", f"tree {data.get('tree')!r} is not {tree!r}", "checkpoint")
        size = int(self.covering["size"])
        listed, previous = [], None
        for position, entry in enumerate(data["checkpoints"]):
            cp = {"id": entry.get("id") if isinstance(entry, dict) else None, "size": None, "time": None}
            try:
                note = parse_note(entry["note"])
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                report.fail(f"checkpoints.json {_cp_where(cp)}", f"not a checkpoint note: {exc}", "checkpoint")
                continue
            cp.update(size=note["size"], time=note["time"], root=note["root"], note=note)
            where = f"checkpoints.json {_cp_where(cp)}"
            problem = self._note_problem(note)
            if entry.get("size") != note["size"]:
                problem = problem or f"the listing says size {entry.get('size')}, the note {note['size']}"
            if problem:
                report.fail(where, problem, "checkpoint")
                continue
            if previous and (note["size"] < previous["size"] or (cp["id"] or 0) <= (previous["id"] or 0)):
                report.fail(where, f"listed after {_cp_where(previous)}: checkpoints go oldest first and "
                            "trees only grow", "checkpoint")
            known = self.roots_by_size.get(note["size"])
            if known is not None and known != note["root"]:
                report.fail(where, f"another checkpoint of size {note['size']} has another root: the log forked",
                            "checkpoint")
            self.roots_by_size.setdefault(note["size"], note["root"])
            listed.append(cp)
            previous = cp
        self.listed = listed
        covering = next((cp for cp in listed if cp["id"] == self.covering.get("id")), None)
        if covering is None:
            report.fail("manifest.json", f"the covering checkpoint id {self.covering.get('id')} (size {size}) is "
                        "not a good checkpoint of checkpoints.json", "checkpoint")
            return
        if covering["size"] != size or covering["root"] != self.covering_root:
            report.fail(f"checkpoints.json {_cp_where(covering)}", "is not the manifest's covering checkpoint "
                        f"(size {size}, root {self.covering['root']})", "checkpoint")
            return
        if covering is not listed[-1]:
            report.fail(f"checkpoints.json {_cp_where(listed[-1])}", "listed after the covering checkpoint",
                        "checkpoint")
        self.covering_ok = True
        self.covering_cp = covering
        proofs = {}
        for entry in data.get("consistency") or []:
            try:
                proofs[(int(entry["from_size"]), int(entry["to_size"]))] = [
                    base64.b64decode(h, validate=True) for h in entry["proof"]]
            except (ValueError, KeyError, TypeError, binascii.Error):
                report.fail("checkpoints.json", f"a consistency proof cannot be read: {str(entry)[:80]}",
                            "checkpoint")
        self.consistent = {}
        for cp in listed:
            where = f"checkpoints.json {_cp_where(cp)}"
            proof = proofs.get((cp["size"], size))
            if proof is None and cp["size"] in (0, size):
                proof = []
            if proof is None:
                report.fail(where, f"no consistency proof to the covering checkpoint (size {size})", "checkpoint")
            elif not verify_consistency(cp["size"], size, cp["root"], self.covering_root, proof):
                report.fail(where, f"not consistent with the covering {_cp_where(covering)}: the log was "
                            "rewritten between them", "checkpoint")
                self.consistent[cp["id"]] = False
            else:
                self.consistent[cp["id"]] = True
                self.stats["checkpoints good"] += 1

    def _note_problem(self, note):
        origin = f"{self.log_name}/{self.kind}"
        if note["origin"] != origin:
            return f"origin {note['origin']!r} is not {origin!r}"
        return note_problem(note, self.log_name, self.public_key)

    def kept_checkpoints(self, nodes):
        """Each ``--checkpoint FILE`` against the bundle; ``nodes``: subtree hashes seen while rebuilding the root."""
        report = self.report
        for path in self.kept_files:
            try:
                with open(path, encoding="utf-8", newline="") as handle:
                    text = handle.read()
                if text.lstrip().startswith("{"):
                    text = json.loads(text)["note"]
                note = parse_note(text)
            except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
                report.fail(f"--checkpoint {path}", f"cannot be read as a checkpoint note: {exc}", "checkpoint")
                continue
            where = f"--checkpoint {path} (size {note['size']}, time {note['time']})"
            problem = self._note_problem(note)
            if problem:
                report.fail(where, problem, "checkpoint")
                continue
            if not getattr(self, "covering_ok", False):
                report.fail(where, "cannot be checked: the bundle has no good covering checkpoint", "checkpoint")
                continue
            size = self.covering_cp["size"]
            if note["size"] > size:
                report.fail(where, f"newer than the bundle's covering checkpoint (size {size}): export again to "
                            "check it", "checkpoint")
                continue
            same = [cp for cp in self.listed if cp["size"] == note["size"]]
            match = next((cp for cp in same if cp["root"] == note["root"]), None)
            parts = [nodes.get(r) for r in decomposition(note["size"])]
            rebuilt = fold_root(parts) if None not in parts else None
            if match is not None:
                if self.consistent.get(match["id"]):
                    self.stats["kept checkpoints consistent"] += 1
                else:
                    report.fail(where, f"the server lists it ({_cp_where(match)}), but not consistent with the "
                                "covering checkpoint: the log was rewritten since", "checkpoint")
            elif same:
                report.fail(where, f"the server's checkpoint of this size ({_cp_where(same[0])}) has another root: "
                            "the log was rewritten since you kept yours", "checkpoint")
            elif rebuilt is not None and rebuilt != note["root"]:
                report.fail(where, "not among the bundle's checkpoints, and the tree rebuilt from this bundle's "
                            "rows has another root at this size: the log was rewritten since you kept yours",
                            "checkpoint")
            else:
                report.fail(where, "not among the bundle's checkpoints, which list every checkpoint the server "
                            "made: the server no longer shows it"
                            + (" (its root does match the rows)" if rebuilt is not None else ""), "checkpoint")

    # Devices -------------------------------------------------------------------------------------------------
    def devices(self):
        self.device_keys = {}
        data = self.json_file("devices.json", rows=True)
        if data is None:
            return
        if not isinstance(data, list):
            self.report.fail("devices.json", "is not a list of devices", "device")
            return
        for position, device in enumerate(data):
            try:
                key = base64.b64decode(device["public_key"], validate=True)
                if len(key) != 32:
                    raise ValueError("not 32 bytes")
                name = device["id"]
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                self.report.fail(f"devices.json device {position + 1}", f"no usable public key: {exc}", "device")
                continue
            if name in self.device_keys:
                self.report.fail(f"devices.json device {name}", "listed twice", "device")
            self.device_keys[name] = key
        expected = (self.m.get("counts") or {}).get("devices")
        if expected is not None and expected != len(data):
            self.report.fail("devices.json", f"{len(data)} devices, the manifest counts {expected}", "file")

    # Rows ----------------------------------------------------------------------------------------------------
    def rows(self, size):
        """Read the main table once: order, signatures, leaves; yields (leaf_index, leaf hash | None) in order."""
        report, kind = self.report, self.kind
        name = f"{kind}.{self.format}"
        self.table_name = name
        self.misplaced = []
        self.seqs = {}
        self.sig_checked, self.sig_failed = collections.Counter(), collections.Counter()
        if not self.bundle.has(name):
            self.missing_reported.add(name)
            report.fail(name, "missing from the bundle", "file")
            self.table = None
            return
        table = self.table = Table(self.bundle, name, kind)
        hashed = self.m.get("tickets") == "hmac-sha256"
        votes = kind == "votes"
        signatures = None
        if votes:
            expected = int((self.m.get("counts") or {}).get("votes") or 0)

            def bad_signature(ref):
                ref, device = ref
                self.sig_failed[device] += 1
                report.fail(ref, "the device signature does not verify with the device's key in devices.json: "
                            "the row was changed, or not made by that tablet", "signature")

            signatures = Signatures(self.device_keys, self.jobs, expected, bad_signature)
        highest, last_index, last_ref = -1, None, None
        try:
            for where, values in table:
                if isinstance(values, BadRow):
                    report.fail(f"{name} {where}".strip(), str(values), "row")
                    continue
                ref = Ref(name, where, values)
                index = values.get("leaf_index")
                if not isinstance(index, int) or isinstance(index, bool):
                    report.fail(ref, "leaf_index is not a number", "row")
                    continue
                try:
                    leaf, checkable = (self._vote(values, ref, hashed, signatures) if votes
                                       else (audit_bytes(values), True))
                except (BadRow, TypeError, ValueError, KeyError, UnicodeEncodeError) as exc:
                    report.fail(ref, f"cannot be read: {exc}", "row")
                    continue
                self.stats["rows"] += 1
                digest = leaf_hash(leaf) if checkable else None
                if index >= size or index < 0:
                    report.fail(ref, f"leaf_index beyond the covering checkpoint's size {size}", "order")
                    continue
                if last_index is not None and index <= last_index:
                    report.fail(ref, f"out of order: comes after {last_ref} (rows go in ascending leaf_index, "
                                "each once)", "order")
                last_index, last_ref = index, ref
                if index <= highest:  # checked on its own after the one-pass rebuild
                    if digest is not None:
                        self.misplaced.append((index, digest, ref))
                    continue
                highest = index
                yield index, digest, ref
        finally:
            if signatures is not None:
                try:
                    signatures.finish()
                finally:
                    signatures.close()
                self.stats["signatures checked"] = signatures.checked
        for device, failed in sorted(self.sig_failed.items()):
            if failed > 1 and failed == self.sig_checked[device]:
                report.fail(f"devices.json device {device}", f"not one of its {failed} rows' signatures verifies "
                            "with this key: it is not the key the tablet signed with", "device")
        self.file_checked(name, table.sha256, table.bytes, table.rows)
        hidden = self.stats["not checkable (ticket hashed)"]
        if hidden:
            report.note(name, f"{hidden} rows have their ticket replaced by a keyed hash (--hash-tickets): their "
                        "signatures and leaves cannot be rebuilt, so they are not checkable (not failures); the "
                        "other rows are checked")
        expected = (self.m.get("counts") or {}).get(kind)
        if expected is not None and expected != table.rows:
            report.fail(name, f"{table.rows} rows, the manifest counts {expected}", "file")

    def _vote(self, v, ref, hashed, signatures):
        device, seq = v["device"], v["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(device, str):
            raise BadRow("device or seq missing")
        runs = self.seqs.get(device)
        if runs is None:
            self.seqs[device] = [[seq, seq, ref]]
        elif seq == runs[-1][1] + 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq, ref])
        message, leaf = vote_bytes(v)
        if hashed and ticket_hashed(v):
            self.stats["not checkable (ticket hashed)"] += 1
            return None, False
        try:
            signature = base64.b64decode(v["signature"] or "", validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if device not in self.device_keys:
            self.report.fail(ref, "its device is not in devices.json", "signature")
        elif len(signature) != 64:
            self.report.fail(ref, "the signature is not base64 of 64 bytes", "signature")
        else:
            self.sig_checked[device] += 1
            signatures.add(device, message, signature, (ref, device))
        return leaf, True

    # Inclusion -----------------------------------------------------------------------------------------------
    def proof_nodes(self):
        """proof.txt as (start, end, hash, line), checked against the manifest as it is read."""
        name = "proof.txt"
        if not self.bundle.has(name):
            if name in self.files and name not in self.missing_reported:
                self.missing_reported.add(name)
                self.report.fail(name, "missing from the bundle", "file")
            return
        handle = self.bundle.open(name)
        raw = Hashing(handle)
        lines = 0
        try:
            for number, line in enumerate(io.BufferedReader(raw, 1 << 16), 1):
                lines = number
                parts = line.split()
                try:
                    start, end, digest = int(parts[0]), int(parts[1]), base64.b64decode(parts[2], validate=True)
                    if len(parts) != 3 or len(digest) != 32 or not 0 <= start < end:
                        raise ValueError
                except (ValueError, IndexError, binascii.Error):
                    self.report.fail(f"{name} line {number}", "not `start end base64-hash`", "proof")
                    continue
                yield start, end, digest, number
        except READ_ERRORS as exc:
            self.report.fail(name, f"cannot be read further: {exc}", "file")
        finally:
            try:
                sha, size = raw.drain()
            except READ_ERRORS as exc:
                sha, size = f"unreadable ({exc})", -1
            handle.close()
            self.file_checked(name, sha, size, lines)

    def rebuild(self, size, rows, proof, wanted):
        """The root of the tree of ``size`` from rows and proof nodes, in one streaming pass.

        Both come in tree pre-order (rows by leaf_index; proof nodes by start, then longest first), so
        the pass holds only one path of the tree. Returns ``(root | None, nodes)``, ``nodes`` holding
        the hashes of the ranges in ``wanted`` met on the way (for the kept checkpoints).
        """
        report = self.report
        row = next(rows, None)
        given_node = next(proof, None)
        nodes = {}
        self.missing, self.strays = [], []

        def node(s, e):
            nonlocal row, given_node
            while given_node is not None and (given_node[0] < s or (given_node[0] == s and given_node[1] > e)):
                self.strays.append(given_node)
                given_node = next(proof, None)
            given = None
            if given_node is not None and given_node[0] == s and given_node[1] == e:
                given = given_node[2]
                given_node = next(proof, None)
            if row is None or row[0] >= e:
                if given is None:
                    self.missing.append((s, e))
                value = given
            elif e - s == 1:
                value = row[1] if row[1] is not None else given
                row = next(rows, None)
            else:
                k = split(e - s)
                left, right = node(s, s + k), node(s + k, e)
                value = node_hash(left, right) if left is not None and right is not None else given
            if value is not None and (s, e) in wanted:
                nodes[(s, e)] = value
            return value

        if row is None:  # no row to prove: proof.txt should be empty
            root = EMPTY_ROOT if not size else None
        else:
            root = node(0, size) if size else EMPTY_ROOT
        for _ in rows:  # rows past the tree were refused by rows(); drain them
            pass
        while given_node is not None:
            self.strays.append(given_node)
            given_node = next(proof, None)
        if not self.misplaced:  # rows out of order leave their proof nodes unused: the order findings say why
            for start, end, _, number in self.strays[:20]:
                report.fail(f"proof.txt line {number}", f"node [{start}, {end}) is on no exported row's audit path",
                            "proof")
        return root, nodes

    def localise(self, size, root, only=None, hidden=False):
        """Each row's own audit path (RFC 9162 §2.1.3.2) with proof.txt's nodes: name the rows that fail.

        Every row, or ``only`` these ``(index, hash, ref)``. Holds proof.txt and the leaves in memory:
        this runs only when the one-pass check failed (or for rows out of order).
        """
        report = self.report
        given = {(s, e): h for s, e, h, _ in self._quiet_proof()}
        leaves = {}
        refs = []
        for index, digest, ref in self._quiet_rows(size):
            leaves.setdefault(index, digest)
            refs.append((index, digest, ref))
        refs = only if only is not None else refs + self.misplaced
        cache = {}

        def value(s, e):
            if (s, e) in given:
                return given[(s, e)]
            if (s, e) in cache:
                return cache[(s, e)]
            if e - s == 1:
                result = leaves.get(s)
            else:
                k = split(e - s)
                left, right = value(s, s + k), value(s + k, e)
                result = None if left is None or right is None else node_hash(left, right)
            cache[(s, e)] = result
            return result

        failed = 0
        for index, digest, ref in refs:
            h = digest
            for s, e in audit_path_ranges(index, size):
                sibling = value(s, e)
                if sibling is None:
                    h = None
                    break
                h = node_hash(h, sibling) if s > index else node_hash(sibling, h)
            if h is None:
                report.fail(ref, "its inclusion cannot be shown: proof.txt lacks a node of its audit path", "inclusion")
                failed += 1
            elif h == root:
                self.stats["rows included"] += 1
            elif h != root:
                report.fail(ref, f"not a leaf of the tree under the covering checkpoint (size {size}) at this "
                            "leaf_index: its audit path does not lead to the signed root (the row was changed, "
                            "added or moved)", "inclusion")
                failed += 1
        if not failed and only is None and not hidden:
            report.fail("proof.txt", "the root rebuilt from the rows and proof.txt is not the checkpoint's, though "
                        "every row's own audit path holds: proof.txt was changed", "inclusion")

    def _quiet_rows(self, size):
        """The main table read again for its leaves only (the first pass made the findings)."""
        table = Table(self.bundle, self.table_name, self.kind)
        hashed = self.m.get("tickets") == "hmac-sha256"
        for where, values in table:
            if isinstance(values, BadRow):
                continue
            index = values.get("leaf_index")
            if not isinstance(index, int) or not 0 <= index < size or (hashed and ticket_hashed(values)):
                continue
            try:
                leaf = vote_bytes(values)[1] if self.kind == "votes" else audit_bytes(values)
            except (TypeError, ValueError, KeyError, UnicodeEncodeError):
                continue
            yield index, leaf_hash(leaf), _row_where(self.table_name, where, values)

    def _quiet_proof(self):
        saved = self.report
        self.report = Report(out=lambda line: None)
        saved_seen = set(self.seen_files)
        try:
            yield from self.proof_nodes()
        finally:
            self.report = saved
            self.seen_files = saved_seen

    # Sequence continuity -------------------------------------------------------------------------------------
    def sequence(self):
        report = self.report
        data = self.json_file("sequence.json")
        explained = collections.defaultdict(list)
        name = f"incidents.{self.format}"
        if self.bundle.has(name):
            table = Table(self.bundle, name, "incidents")
            for where, values in table:
                if isinstance(values, BadRow):
                    report.fail(f"{name} {where}".strip(), str(values), "row")
                    continue
                if values.get("stream") not in (None, "votes"):
                    continue
                kind, seq, detail = values.get("kind"), values.get("seq"), values.get("detail")
                if isinstance(detail, str):  # JSON text in every format
                    try:
                        detail = json.loads(detail)
                    except ValueError:
                        report.fail(f"{name} {where}", "detail is not JSON text", "row")
                        continue
                if kind == "gap" and values.get("resolved_at") is None and isinstance(detail, dict):
                    low = detail.get("missing_from", seq)
                    high = detail.get("missing_to", low)
                    if isinstance(low, int) and isinstance(high, int):
                        explained[values.get("device")].append((low, high))
                elif kind in ("conflict", "rejected") and isinstance(seq, int):
                    explained[values.get("device")].append((seq, seq))
            self.file_checked(name, table.sha256, table.bytes, table.rows)
            expected = (self.m.get("counts") or {}).get("incidents")
            if expected is not None and expected != table.rows:
                report.fail(name, f"{table.rows} rows, the manifest counts {expected}", "file")
        elif name in self.files:
            self.missing_reported.add(name)
            report.fail(name, "missing from the bundle", "file")
        if not isinstance(data, dict):
            if data is not None:
                report.fail("sequence.json", "is not an object of devices", "sequence")
            return
        for device in data:
            if device not in self.seqs:  # every row of the device left out: the filters must say so
                self.seqs[device] = []
        for device, runs in sorted(self.seqs.items()):
            entry = data.get(device)
            if not isinstance(entry, dict):
                report.fail(runs[0][2] if runs else f"sequence.json device {device}",
                            f"device {device} has rows but no usable entry in sequence.json", "sequence")
                continue
            try:
                first, last = int(entry["first_seq"]), int(entry["last_seq"])
                withheld = [(int(a), int(b)) for a, b in entry.get("withheld") or []]
            except (KeyError, TypeError, ValueError):
                report.fail(f"sequence.json device {device}", "first_seq, last_seq or withheld cannot be read",
                            "sequence")
                continue
            runs.sort(key=lambda run: run[0])
            covered, reach, reach_ref = [], None, None
            for low, high, ref in runs:
                if reach is not None and low <= reach:
                    report.fail(ref, f"device {device} seq {low} is also in another row (the run of rows from "
                                f"{reach_ref}): each seq is one vote", "sequence")
                if low < first or high > last:
                    report.fail(ref, f"device {device}: seq {low}–{high} outside sequence.json's {first}–{last}",
                                "sequence")
                covered.append((low, high))
                if reach is None or high > reach:
                    reach, reach_ref = high, ref
            for low, high in withheld:
                for row_low, row_high, ref in runs:
                    if row_low <= high and low <= row_high:
                        report.fail(ref, f"device {device}: seqs {max(low, row_low)}–{min(high, row_high)} are "
                                    "exported rows, yet sequence.json says withheld", "sequence")
                        break
            holes = _holes(first, last, covered + withheld + explained.get(device, []))
            for low, high in holes:
                seqs = f"seq {low}" if low == high else f"seqs {low}–{high}"
                report.fail(f"sequence.json device {device}", f"{seqs} missing: no exported row, not withheld by the "
                            "filters, and no sync incident names it", "sequence")
            if not holes:
                self.stats["devices with continuous seqs"] += 1


def _holes(first, last, ranges):
    """The parts of [first, last] no range covers."""
    holes, at = [], first
    for low, high in sorted(ranges):
        if low > at and at <= last:
            holes.append((at, min(low - 1, last)))
        at = max(at, high + 1)
    if at <= last:
        holes.append((at, last))
    return holes


def verify(path, checkpoints=(), key=None, jobs=1, out=None):
    """Check the bundle at ``path``; returns ``(exit status, Report)``. ``out`` gets each line as made."""
    report = Report(out)
    try:
        bundle = Bundle(path)
        verifier = Verifier(bundle, report, key, checkpoints, jobs)
        verifier.seen_files, verifier.missing_reported = set(), set()
        verifier.manifest()
    except (Unreadable, *READ_ERRORS) as exc:
        report.plain(f"ERROR the bundle cannot be read: {exc}")
        return 2, report
    v = verifier
    v.checkpoints()
    size = v.covering_cp["size"] if v.covering_ok else int(v.covering["size"])
    root = v.covering_root
    if v.kind == "votes":
        v.devices()
    wanted = set()
    for path_kept in checkpoints:
        for cp_size in _sizes_in(path_kept):
            if cp_size <= size:
                wanted.update(decomposition(cp_size))
    rows = v.rows(size)
    rebuilt, nodes = v.rebuild(size, ((i, h) for i, h, _ in rows), v.proof_nodes(), wanted)
    unplaced = v.misplaced
    checkable = v.stats["rows"] - v.stats["not checkable (ticket hashed)"]
    if v.table is not None:
        if rebuilt == root and not v.missing:
            v.stats["rows included"] = checkable - len(unplaced)
            if unplaced:
                v.localise(size, root, only=unplaced)
        elif rebuilt is None and not v.missing:
            v.localise(size, root, hidden=True)  # hashed tickets hide some leaves: each row on its own
        else:
            for s, e in v.missing[:20]:
                report.fail("proof.txt", f"leaves [{s}, {e}) have neither a row nor a proof node: a row was taken "
                            "out, or a line of proof.txt", "proof")
            v.localise(size, root)
    if v.kind == "votes":
        v.sequence()
    v.kept_checkpoints(nodes if rebuilt == root else {})  # subtrees of rows shown to be in the log only
    for name in v.files:
        if name not in v.seen_files and bundle.has(name) and name not in ("manifest.json", "manifest.sig"):
            try:
                data = bundle.read(name)
            except READ_ERRORS as exc:
                report.fail(name, f"cannot be read: {exc}", "file")
                continue
            v.file_checked(name, hashlib.sha256(data).hexdigest(), len(data))
        elif not bundle.has(name) and name not in v.missing_reported:
            report.fail(name, "missing from the bundle", "file")
    _summary(v, report)
    return (1 if report.failures else 0), report


def _sizes_in(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if text.lstrip().startswith("{"):
            text = json.loads(text)["note"]
        return [parse_note(text)["size"]]
    except (OSError, ValueError, KeyError, TypeError, binascii.Error):
        return []


def _summary(v, report):
    s = v.stats
    lines = [f"Bundle: {v.kind}, {s['rows']} rows ({v.format}), covering checkpoint size {v.covering.get('size')}"]
    if v.kind == "votes":
        lines.append(f"Signatures: {s['signatures checked']} checked, {report.counts['failed signature']} failed, "
                     f"{s['not checkable (ticket hashed)']} not checkable (ticket replaced by a keyed hash)")
        lines.append(f"Sequences: {s['devices with continuous seqs']} devices continuous, "
                     f"{report.counts['failed sequence']} findings")
    lines.append(f"Inclusion: {s['rows included']} rows shown in the tree, {report.counts['failed inclusion']} "
                 f"failed; order findings {report.counts['failed order']}; proof findings "
                 f"{report.counts['failed proof']}")
    lines.append(f"Checkpoints: {s['checkpoints good']} listed and consistent, {s['kept checkpoints consistent']} "
                 f"of {len(v.kept_files)} kept consistent, {report.counts['failed checkpoint']} findings")
    lines.append(f"Files: {s['files good']} match the manifest, {report.counts['failed file']} findings; "
                 f"manifest signature {'good' if s['manifest signature good'] else 'FAILED'}")
    verdict = "OK: everything holds" if not report.failures else f"FAILED: {report.failures} findings"
    lines.append(f"Result: {verdict}")
    for line in lines:
        report.plain(line)


def default_jobs():
    """One process per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Check a hailong export bundle without the server (docs/verify.md).")
    parser.add_argument("bundle", help="the bundle: a .zip file or a folder")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                        help="a checkpoint note you kept from earlier (repeatable)")
    parser.add_argument("--key", help="the server's key as `hailong keys show` prints it (or a file holding it)")
    parser.add_argument("--jobs", type=int, default=default_jobs(), metavar="N",
                        help="processes checking signatures (default: one per CPU)")
    args = parser.parse_args(argv)
    status, _ = verify(args.bundle, args.checkpoint, args.key, max(1, args.jobs),
                       out=print)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())

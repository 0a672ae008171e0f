"""Export bundles built from the written contract alone (docs/verify.md), for the verifier's own tests.

Nothing here comes from the server or from tools/verify.py: real Ed25519 keys
(PyNaCl), the Merkle tree written from RFC 6962 §2.1's recursive definitions
(MTH, PATH, PROOF) rather than the server's or the verifier's iterative code,
and the files laid out as docs/verify.md describes. A second, independent
reading of the format: when the verifier and this disagree, one of them has
the format wrong.
"""

import base64
import csv
import datetime as dt
import functools
import hashlib
import io
import json
import random
import zipfile

import nacl.signing

LOG_NAME = "hailong.test"
COLUMNS = ("leaf_index", "vote_id", "device", "seq", "counter", "staff", "unit", "counter_unit", "rating",
           "reasons", "ticket", "local_time", "received_at", "counted_at", "time_corrected", "clock_offset_ms",
           "scale_version", "flags", "review", "signature")
NUMERIC = {"leaf_index", "seq", "rating", "clock_offset_ms", "scale_version"}
INCIDENT_COLUMNS = ("id", "device", "stream", "kind", "seq", "item_uuid", "digest", "detail", "created_at",
                    "resolved_at", "counter", "staff")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def jcs(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- RFC 6962 §2.1, as written there (recursive, on lists of leaf hashes) ------------------------------------


def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes):
    """MTH over already-hashed leaves (each SHA-256(0x00 || leaf))."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def path_ranges(m, start, end):
    """RFC 6962 PATH(m, D[start:end]) as the ranges of its nodes, leaf to root (m relative to start)."""
    n = end - start
    if n <= 1:
        return []
    k = _k(n)
    if m < k:
        return path_ranges(m, start, start + k) + [(start + k, end)]
    return path_ranges(m - k, start + k, end) + [(start, start + k)]


def subproof(m, hashes, b):
    n = len(hashes)
    if m == n:
        return [] if b else [mth(hashes)]
    k = _k(n)
    if m <= k:
        return subproof(m, hashes[:k], b) + [mth(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def consistency(m, hashes):
    """RFC 6962 PROOF(m, D[n])."""
    if m == 0 or m == len(hashes):
        return []
    return subproof(m, hashes, True)


# --- Notes and keys -----------------------------------------------------------------------------------------


def key_id(public_key, name=LOG_NAME):
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()[:4]


def verifier_key(signing_key, name=LOG_NAME):
    public = bytes(signing_key.verify_key)
    encoded = b64(b"\x01" + public)
    return f"{name}+{key_id(public, name).hex()}+{encoded}"


def note(signing_key, tree, size, root, at, name=LOG_NAME):
    body = f"{name}/{tree}\n{size}\n{b64(root)}\ntime {at}\n"
    signature = signing_key.sign(body.encode()).signature
    public = bytes(signing_key.verify_key)
    encoded = b64(key_id(public, name) + signature)
    return body + f"\n\u2014 {name} {encoded}\n"


# --- Votes ---------------------------------------------------------------------------------------------------


def _signed_bytes(vote):
    signed = {name: vote[name] for name in ("device", "seq", "counter", "staff", "rating", "reasons", "ticket",
                                            "local_time", "scale_version")}
    signed["id"] = vote["vote_id"]
    marks = [flag for flag in vote["flags"] if flag == "rapid_repeat"]
    if marks:
        signed["marks"] = marks
    return b"hailong-vote-v1\n" + jcs(signed)


def leaf_bytes(vote):
    server = {name: vote[name] for name in ("signature", "received_at", "clock_offset_ms", "unit", "counter_unit",
                                            "counted_at", "time_corrected", "flags")}
    return _signed_bytes(vote) + b"\n" + jcs(server)


class Log:
    """A little server: devices, votes in acceptance order, checkpoints."""

    def __init__(self, seed=0, devices=3):
        self.rng = random.Random(seed)
        self.key = nacl.signing.SigningKey(bytes(self.rng.getrandbits(8) for _ in range(32)))
        self.devices = {}
        for number in range(devices):
            key = nacl.signing.SigningKey(bytes(self.rng.getrandbits(8) for _ in range(32)))
            self.devices[f"dev-{number:04d}"] = {"key": key, "counter": f"Q{number}", "seq": 0}
        self.votes, self.incidents, self.checkpoints = [], [], []
        self.clock = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)

    def _time(self):
        self.clock += dt.timedelta(seconds=self.rng.randint(5, 4000))
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.rng.randint(0, 999):03d}Z"

    def add_votes(self, n, skip_seq=None):
        """``n`` votes from random devices; ``skip_seq``: (device, seq) never arrives (a gap incident names it)."""
        for _ in range(n):
            device = self.rng.choice(sorted(self.devices))
            info = self.devices[device]
            info["seq"] += 1
            if skip_seq == (device, info["seq"]):
                self.incidents.append({"id": len(self.incidents) + 1, "device": device, "stream": "votes",
                                       "kind": "gap", "seq": info["seq"], "item_uuid": None, "digest": None,
                                       "detail": {"missing_from": info["seq"], "missing_to": info["seq"]},
                                       "created_at": self._time(), "resolved_at": None, "counter": info["counter"],
                                       "staff": None})
                info["seq"] += 1
            at = self._time()
            ticket = self.rng.choice([None, None, "A012", "=1+2", "-5", "'quoted", "@x", "Số 7"])
            vote = {
                "leaf_index": len(self.votes), "vote_id": f"0190{len(self.votes):04x}-0000-7000-8000-{self.rng.getrandbits(48):012x}",
                "device": device, "seq": info["seq"], "counter": info["counter"],
                "staff": self.rng.choice(["NV001", "NV002", "-NV3"]), "unit": self.rng.choice(["DN-TT", None]),
                "counter_unit": "DN-TT", "rating": self.rng.choice([0, 1, 2, 3, -1]),
                "reasons": sorted(self.rng.sample(["attitude", "slow", "unclear"], self.rng.randint(0, 2))),
                "ticket": ticket, "local_time": at.replace("Z", "+07:00"), "received_at": at, "counted_at": at,
                "time_corrected": self.rng.random() < 0.1,
                "clock_offset_ms": self.rng.choice([None, 0, -1200, 35]), "scale_version": 1,
                "flags": sorted(self.rng.sample(["rapid_repeat", "late"], self.rng.randint(0, 2))),
                "review": [],
            }
            vote["signature"] = b64(info["key"].sign(_signed_bytes({**vote, "signature": ""})).signature)
            self.votes.append(vote)

    def hashes(self, size=None):
        return [hashlib.sha256(b"\x00" + leaf_bytes(v)).digest() for v in self.votes[:size]]

    def checkpoint(self):
        size = len(self.votes)
        at = self.clock.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.checkpoints.append({"id": len(self.checkpoints) + 1, "size": size,
                                 "note": note(self.key, "votes", size, mth(self.hashes(size)), at)})
        return self.checkpoints[-1]

    def export(self, path, fmt="csv", device=None, bom=False, zip_it=False, hash_tickets=False):
        """Write a bundle of every vote (or one device's) under the latest checkpoint; returns its files."""
        covering = self.checkpoints[-1]
        size = covering["size"]
        hashes = self.hashes(size)
        rows = [dict(v) for v in self.votes[:size] if device in (None, v["device"])]
        if hash_tickets:
            for row in rows:
                if row["ticket"] is not None:
                    row["ticket"] = "hmac-sha256:" + hashlib.sha256(row["ticket"].encode()).hexdigest()[:32]
        devices = sorted({row["device"] for row in rows})
        sequence = {}
        for name in devices:
            seqs = [v["seq"] for v in self.votes[:size] if v["device"] == name]
            mine = {row["seq"] for row in rows if row["device"] == name}
            sequence[name] = {"first_seq": min(seqs), "last_seq": max(seqs), "withheld": _ranges(
                sorted(s for s in seqs if s not in mine))}
        nodes = {}
        node = functools.lru_cache(maxsize=None)(lambda s, e: mth(hashes[s:e]))
        for row in rows:
            for s, e in path_ranges(row["leaf_index"], 0, size):
                nodes[(s, e)] = node(s, e)
        proof = "".join(f"{s} {e} {b64(h)}\n" for (s, e), h in sorted(nodes.items(), key=lambda x: (x[0][0], -x[0][1])))
        incidents = [i for i in self.incidents if i["device"] in devices]
        files = {
            f"votes.{fmt}": _table(rows, COLUMNS, fmt, bom, "votes"),
            f"incidents.{fmt}": _table(incidents, INCIDENT_COLUMNS, fmt, bom, "incidents"),
            "devices.json": json.dumps([{"id": name, "counter": self.devices[name]["counter"],
                                         "public_key": b64(bytes(self.devices[name]["key"].verify_key)),
                                         "status": "active", "enrolled_at": "2026-11-01T00:00:00.000Z",
                                         "revoked_at": None} for name in devices], indent=1).encode(),
            "sequence.json": json.dumps(sequence, indent=1).encode(),
            "checkpoints.json": json.dumps({"tree": "votes", "checkpoints": self.checkpoints, "consistency": [
                {"from_size": cp["size"], "to_size": size, "proof": [b64(h) for h in consistency(cp["size"], hashes)]}
                for cp in self.checkpoints]}, indent=1, ensure_ascii=False).encode(),
            "proof.txt": proof.encode(),
        }
        public = bytes(self.key.verify_key)
        row_counts = {f"votes.{fmt}": len(rows), f"incidents.{fmt}": len(incidents), "proof.txt": len(nodes)}
        manifest = json.dumps({
            "format_version": 1, "kind": "votes", "created_at": "2026-12-01T00:00:00Z", "software_version": "test",
            "log_name": LOG_NAME, "server_public_key": b64(public), "server_key_id": key_id(public).hex(),
            "filters": {"device": device}, "tickets": "hmac-sha256" if hash_tickets else "plain", "format": fmt,
            "bom": bom, "checkpoint": {"id": covering["id"], "size": size, "root": b64(mth(hashes))},
            "counts": {"votes": len(rows), "incidents": len(incidents), "devices": len(devices)},
            "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                             "rows": row_counts.get(name)} for name, data in files.items()},
        }, indent=1, ensure_ascii=False).encode()
        files["manifest.json"] = manifest
        files["manifest.sig"] = (b64(self.key.sign(b"hailong-manifest-v1\n" + manifest).signature) + "\n").encode()
        if zip_it:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
                for name, data in files.items():
                    bundle.writestr(name, data)
        else:
            path.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (path / name).write_bytes(data)
        return files


def _ranges(seqs):
    out = []
    for seq in seqs:
        if out and out[-1][1] == seq - 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out


def _cell(name, value, numeric):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if name in numeric:
        return str(value)
    return value


def _table(rows, columns, fmt, bom, sheet):
    numeric = NUMERIC if sheet == "votes" else {"id", "seq"}
    if fmt == "jsonl":
        return "".join(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n" for row in rows).encode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            cells = []
            for c in columns:
                text = _cell(c, row[c], numeric)
                if c not in numeric and text[:1] in ("=", "+", "-", "@", "\t", "\r", "'"):
                    text = "'" + text
                cells.append(text)
            writer.writerow(cells)
        return ("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8")
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(list(columns))
    for row in rows:
        cells = []
        for c in columns:
            value = row[c]
            if value is None:
                cells.append(None)
            elif c in numeric:
                cells.append(value)
            else:
                cell = WriteOnlyCell(ws, value=_cell(c, value, numeric))
                cell.data_type = "s"
                cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

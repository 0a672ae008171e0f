"""Ways to tamper with an export bundle, and what the verifier must then name.

A bundle is handled as ``{file name: bytes}``. Each tampering takes one and a
``random.Random`` and returns ``(name, files, expected)``: the changed files
and the texts of which the report must show at least one in a ``FAIL`` or
``ERROR`` line (a row's ``leaf_index …, vote_id …``, a device and seq, a
checkpoint's id, a file's name). Tables are read and rewritten as the
contract says they are written (CSV with one leading apostrophe on risky
text, JSON Lines, XLSX through openpyxl), so a changed rating is a changed
rating, not a broken file.
"""

import base64
import csv
import hashlib
import io
import json
import uuid

import nacl.signing

TEXT_RISK = ("=", "+", "-", "@", "\t", "\r", "'")
NUMERIC = {"leaf_index", "seq", "rating", "clock_offset_ms", "scale_version"}
JSON_COLUMNS = {"reasons", "flags", "review"}


def b64(data):
    return base64.b64encode(data).decode("ascii")


def jcs(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_bytes(row):
    """What a tablet signs (docs/protocol.md), from a decoded vote row."""
    signed = {"id": row["vote_id"], **{name: row[name] for name in (
        "device", "seq", "counter", "staff", "rating", "reasons", "ticket", "local_time", "scale_version")}}
    marks = [flag for flag in row["flags"] if flag == "rapid_repeat"]
    if marks:
        signed["marks"] = marks
    return b"hailong-vote-v1\n" + jcs(signed)


# --- Tables: decoded rows and back ---------------------------------------------------------------------------


class Table:
    """The votes file of a bundle as decoded rows (dicts of typed values), written back in its own format."""

    def __init__(self, name, data):
        self.name, self.fmt = name, name.rsplit(".", 1)[1]
        if self.fmt == "csv":
            self.bom = data.startswith(b"\xef\xbb\xbf")
            reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
            self.header = next(reader)
            self.rows = [self._from_csv(cells) for cells in reader]
        elif self.fmt == "jsonl":
            self.rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
            self.header = None
        else:
            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(data))
            self.rows, self.header = [], None
            for sheet in book.worksheets:
                values = list(sheet.iter_rows(values_only=True))
                self.header = list(values[0])
                self.rows += [self._from_xlsx(cells) for cells in values[1:]]

    def _from_csv(self, cells):
        row = {}
        for name, cell in zip(self.header, cells):
            if cell == "":
                row[name] = None
            elif name in NUMERIC:
                row[name] = int(cell)
            elif name in JSON_COLUMNS:
                row[name] = json.loads(cell)
            elif name == "time_corrected":
                row[name] = cell == "true"
            else:
                row[name] = cell[1:] if cell.startswith("'") else cell
        return row

    def _from_xlsx(self, cells):
        row = {}
        for name, cell in zip(self.header, cells):
            if name in JSON_COLUMNS and cell is not None:
                cell = json.loads(cell)
            elif name == "time_corrected":
                cell = cell == "true"
            row[name] = cell
        return row

    def line_of(self, position):
        """Where the row at ``position`` is, as the verifier names it."""
        if self.fmt == "xlsx":
            return f"row {position + 2}"
        return f"line {position + 2}" if self.fmt == "csv" else f"line {position + 1}"

    def dump(self):
        if self.fmt == "jsonl":
            return "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
                           for row in self.rows).encode("utf-8")
        if self.fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(self.header)
            for row in self.rows:
                writer.writerow([_csv_cell(name, row[name]) for name in self.header])
            return ("\ufeff" if self.bom else "").encode("utf-8") + out.getvalue().encode("utf-8")
        import openpyxl
        from openpyxl.cell import WriteOnlyCell

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("votes")
        sheet.append(self.header)
        for row in self.rows:
            cells = []
            for name in self.header:
                value = row[name]
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif isinstance(value, (list, dict)):
                    value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                if isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"
                    value = cell
                cells.append(value)
            sheet.append(cells)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def _csv_cell(name, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if name in NUMERIC:
        return str(value)
    return "'" + value if value.startswith(TEXT_RISK) else value


def votes_name(files):
    return next(name for name in files if name.startswith("votes."))


def row_names(row):
    return [f"leaf_index {row['leaf_index']}, vote_id {row['vote_id']}"]


# --- The tamperings ------------------------------------------------------------------------------------------


def changed_byte(files, rng):
    name = rng.choice(sorted(files))
    data = bytearray(files[name])
    if not data:
        return None
    at = rng.randrange(len(data))
    data[at] = (data[at] + rng.randrange(1, 256)) % 256
    return "changed byte", {**files, name: bytes(data)}, [name]


def changed_rating(files, rng):
    name = votes_name(files)
    table = Table(name, files[name])
    if not table.rows:
        return None
    position = rng.randrange(len(table.rows))
    row = table.rows[position]
    row["rating"] = rng.choice([value for value in range(-2, 6) if value != row["rating"]])
    return "changed rating", {**files, name: table.dump()}, row_names(row)


def deleted_row(files, rng):
    name = votes_name(files)
    table = Table(name, files[name])
    if not table.rows:
        return None
    row = table.rows.pop(rng.randrange(len(table.rows)))
    # The seq the device now lacks, or the leaf the proof now misses.
    return "deleted row", {**files, name: table.dump()}, [f"device {row['device']}: seq {row['seq']} missing"]


def reordered_rows(files, rng):
    name = votes_name(files)
    table = Table(name, files[name])
    if len(table.rows) < 2:
        return None
    a, b = sorted(rng.sample(range(len(table.rows)), 2))
    table.rows[a], table.rows[b] = table.rows[b], table.rows[a]
    # The row that moved back is named as out of order whatever else is.
    moved = table.rows[b]
    return "reordered rows", {**files, name: table.dump()}, [
        (f"{table.line_of(b)} (leaf_index {moved['leaf_index']}, vote_id {moved['vote_id']},", "out of order")]


def forged_row(files, rng):
    """A vote signed by a made-up tablet, its key added to devices.json: signed, but not in the log."""
    name = votes_name(files)
    table = Table(name, files[name])
    if not table.rows:
        return None
    position = rng.randrange(len(table.rows))
    key = nacl.signing.SigningKey(bytes(rng.getrandbits(8) for _ in range(32)))
    forged = dict(table.rows[position])
    forged.update(vote_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), device="dev-forged",
                  seq=rng.randint(1, 50), rating=rng.choice([0, 1, 2, 3]))
    forged["signature"] = b64(key.sign(signed_bytes(forged)).signature)
    if rng.random() < 0.5:
        table.rows[position] = forged  # in place of a real vote
    else:
        table.rows.insert(position + 1, forged)  # beside it, with its leaf_index
    devices = json.loads(files["devices.json"])
    devices.append({**devices[0], "id": "dev-forged", "public_key": b64(bytes(key.verify_key))})
    return "forged row", {**files, name: table.dump(),
                          "devices.json": json.dumps(devices, indent=1).encode()}, [f"vote_id {forged['vote_id']}"]


def swapped_device_key(files, rng):
    devices = json.loads(files["devices.json"])
    if not devices:
        return None
    victim = rng.randrange(len(devices))
    others = [d["public_key"] for d in devices if d["public_key"] != devices[victim]["public_key"]]
    if others and rng.random() < 0.5:
        devices[victim]["public_key"] = rng.choice(others)
    else:
        devices[victim]["public_key"] = b64(bytes(nacl.signing.SigningKey.generate().verify_key))
    device = devices[victim]["id"]
    expected = [f"device {device} seq "]  # its rows' signatures fail
    return "swapped device key", {**files, "devices.json": json.dumps(devices, indent=1).encode()}, expected


def rewritten_checkpoint(files, rng):
    listing = json.loads(files["checkpoints.json"])
    if not listing["checkpoints"]:
        return None
    entry = rng.choice(listing["checkpoints"])
    body, signature = entry["note"].split("\n\n", 1)
    lines = body.split("\n")
    how = rng.choice(["size", "root", "time", "key"])
    if how == "size":
        lines[1] = str(int(lines[1]) + rng.randint(1, 9))
    elif how == "root":
        lines[2] = b64(hashlib.sha256(lines[2].encode()).digest())
    elif how == "time":
        lines[3] = "time 2031-01-01T00:00:00Z"
    note = "\n".join(lines) + "\n\n" + signature
    if how == "key" or rng.random() < 0.3:  # re-signed, by a key that is not the server's
        other = nacl.signing.SigningKey(bytes(rng.getrandbits(8) for _ in range(32)))
        name = lines[0].split("/")[0]
        new_body = "\n".join(lines) + "\n"
        kid = signature.split(" ", 2)[2].strip()
        kid = base64.b64decode(kid)[:4] if rng.random() < 0.5 else hashlib.sha256(b"other").digest()[:4]
        note = new_body + f"\n\u2014 {name} {b64(kid + other.sign(new_body.encode()).signature)}\n"
    entry["note"] = note
    changed = json.dumps(listing, indent=1, ensure_ascii=False).encode()
    return "rewritten checkpoint", {**files, "checkpoints.json": changed}, [f"checkpoint id {entry['id']} ("]


def truncated_file(files, rng):
    name = rng.choice(sorted(files))
    if not files[name]:
        return None
    return "truncated file", {**files, name: files[name][: rng.randrange(len(files[name]))]}, [name]


TAMPERINGS = (changed_byte, changed_rating, deleted_row, reordered_rows, forged_row, swapped_device_key,
              rewritten_checkpoint, truncated_file)


def named(lines, expected):
    """True when a FAIL or ERROR line holds one of ``expected`` (a text, or a tuple of texts all in one line)."""
    bad = [line for line in lines if line.startswith(("FAIL", "ERROR"))]
    return any(all(part in line for part in ((text,) if isinstance(text, str) else text))
               for line in bad for text in expected)

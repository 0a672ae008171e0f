"""Verifiable exports (issue 10): formats read back, filters, scope, the manifest, the CLI and the API.

Every CSV/JSONL/XLSX row is turned back into the leaf the log holds (the
ledger's own leaf bytes from the exported cells): an exported vote that
differs from the stored one in any signed or server field fails here.
"""

import base64
import csv
import hashlib
import io
import json
import zipfile

import nacl.signing
import openpyxl
import pytest

from server import storage
from server.errors import Forbidden, Invalid
from server.exports import formats
from server.ledger import keys, leaves, log, merkle
from server.manage import exports
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from server.storage import accounts
from tests.export_data import add_votes
from tests.live import hailong
from tests.people import signed_in, token_for

pytestmark = pytest.mark.backends

# Tickets a spreadsheet would run, and one that starts with an apostrophe already.
TICKETS = ["=1+1", "+84 912", "-5", "@SUM(A1)", "\tTAB", "'quoted", "A017", "Số 5, \"quầy\"\nhai"]
NUMBERS = ("leaf_index", "seq", "rating", "clock_offset_ms", "scale_version")


@pytest.fixture
def bundle_db(people):
    """The people database with 64 more votes (3 tablets, 30 days of October 2026) and the log's key."""
    path, facts = people
    keys.ensure_key(str(path.parent))
    db = storage.connect(path)
    devices = {"DN-TT-Q1": facts["devices"]["in"], "DN-TT-Q2": facts["devices"]["in2"],
               "DN-BH-Q1": facts["devices"]["out"]}
    add_votes(db, devices, 64, tickets=TICKETS, catch_up=False)
    # Two votes marked rapid_repeat at the tap: an ingest flag, and a mark inside the signed bytes.
    db.execute("UPDATE votes SET flags = 'rapid_repeat' WHERE uuid IN (SELECT uuid FROM votes ORDER BY id DESC LIMIT 2)")
    log.catch_up(db, "votes")
    db.close()
    return path, facts


def settings_for(path):
    return {**DEFAULTS, "INSTANCE": str(path.parent), "DATABASE": str(path)}


def export(path, actor=None, **filters):
    db = storage.connect(path)
    try:
        out = io.BytesIO()
        manifest = exports.export_votes(db, actor or cli_actor(), settings_for(path), filters, out)
        return manifest, zipfile.ZipFile(io.BytesIO(out.getvalue()))
    finally:
        db.close()


def auditor(path, username="auditor"):
    from server.manage.actor import Actor

    db = storage.connect(path)
    user = accounts.user_by_username(db, username)
    actor = Actor(kind="user", name=username, user_id=user["id"], roles=accounts.roles_of(db, user["id"]))
    db.close()
    return actor


def csv_rows(bundle, name="votes.csv"):
    text = bundle.read(name).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, row)) for row in body]


def typed(row):
    """A CSV row as values: the inert rule undone, numbers, JSON lists, booleans, empty as null."""
    out = {}
    for name, text in row.items():
        if text == "":
            out[name] = None
        elif name in NUMBERS:
            out[name] = int(text)
        elif name in ("reasons", "flags", "review"):
            out[name] = json.loads(text)
        elif name == "time_corrected":
            out[name] = {"true": True, "false": False}[text]
        else:
            out[name] = formats.uninert(text)
    return out


def leaf_of(row):
    """The vote's leaf hash rebuilt from an exported row, as the ledger makes it from a stored one."""
    stored = {"uuid": row["vote_id"], "device_id": row["device"], "seq": row["seq"], "counter": row["counter"],
              "staff": row["staff"], "rating": row["rating"], "reasons": json.dumps(row["reasons"]),
              "ticket": row["ticket"], "local_time": row["local_time"], "scale_version": row["scale_version"],
              "signature": row["signature"], "received_at": row["received_at"],
              "clock_offset_ms": row["clock_offset_ms"], "unit": row["unit"], "counter_unit": row["counter_unit"],
              "counted_at": row["counted_at"], "time_corrected": row["time_corrected"],
              "flags": ",".join(row["flags"]) or None}
    return merkle.leaf_hash(leaves.vote_leaf(stored))


def stored_leaves(path):
    db = storage.connect(path)
    found = {idx: bytes(digest) for idx, digest in db.execute("SELECT idx, hash FROM log_leaves WHERE tree = 'votes'")}
    db.close()
    return found


def test_a_csv_bundle_reads_back_with_the_csv_module_and_every_row_is_its_leaf(bundle_db):
    path, _facts = bundle_db
    manifest, bundle = export(path, format="csv", bom=True)
    assert bundle.read("votes.csv").startswith(b"\xef\xbb\xbfleaf_index,vote_id,")
    header, rows = csv_rows(bundle)
    assert header == list(exports.bundle.VOTE_COLUMNS)
    assert len(rows) == manifest["counts"]["votes"] == 66
    by_ticket = {row["ticket"]: row for row in rows}
    # Formula starts and a leading apostrophe get one apostrophe; numbers never do.
    assert {"'=1+1", "'+84 912", "'-5", "'@SUM(A1)", "'\tTAB", "''quoted", "A017"} <= set(by_ticket)
    assert "Số 5, \"quầy\"\nhai" in by_ticket, "commas, quotes and newlines survive the CSV quoting"
    values = [typed(row) for row in rows]
    assert [v["leaf_index"] for v in values] == sorted(v["leaf_index"] for v in values)
    assert {v["ticket"] for v in values} >= set(TICKETS)
    log = stored_leaves(path)
    assert all(leaf_of(v) == log[v["leaf_index"]] for v in values)


def test_jsonl_and_xlsx_hold_the_same_rows_as_the_csv(bundle_db):
    path, _facts = bundle_db
    _, as_csv = export(path, format="csv")
    expected = [typed(row) for row in csv_rows(as_csv)[1]]
    _, as_jsonl = export(path, format="jsonl")
    lines = as_jsonl.read("votes.jsonl").decode("utf-8").split("\n")
    assert lines[-1] == ""
    parsed = [json.loads(line) for line in lines[:-1]]
    assert [list(row) for row in parsed] == [list(exports.bundle.VOTE_COLUMNS)] * len(parsed)
    assert parsed == expected
    _, as_xlsx = export(path, format="xlsx")
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.read("votes.xlsx")), read_only=True)
    assert book.sheetnames == ["votes"]
    sheet = list(book["votes"].iter_rows(values_only=True))
    assert list(sheet[0]) == list(exports.bundle.VOTE_COLUMNS)
    from_xlsx = []
    for cells in sheet[1:]:
        row = dict(zip(sheet[0], cells))
        row.update(reasons=json.loads(row["reasons"]), flags=json.loads(row["flags"]),
                   review=json.loads(row["review"]), time_corrected={"true": True, "false": False}[row["time_corrected"]])
        from_xlsx.append(row)
    assert from_xlsx == expected, "XLSX text is never escaped, never a formula"
    book.close()
    cells = openpyxl.load_workbook(io.BytesIO(as_xlsx.read("votes.xlsx")))["votes"]
    formula_like = [cell for row in cells.iter_rows() for cell in row if cell.value == "=1+1"]
    assert formula_like and all(cell.data_type == "s" for cell in formula_like)


def test_the_manifest_is_signed_and_names_every_file_with_its_hash_size_and_rows(bundle_db):
    path, _facts = bundle_db
    manifest, bundle = export(path, format="jsonl")
    names = bundle.namelist()
    assert names[-2:] == ["manifest.json", "manifest.sig"], "the manifest and its signature are written last"
    body = bundle.read("manifest.json")
    assert json.loads(body) == manifest
    key = nacl.signing.VerifyKey(base64.b64decode(manifest["server_public_key"]))
    key.verify(b"hailong-manifest-v1\n" + body, base64.b64decode(bundle.read("manifest.sig").strip()))
    assert set(manifest["files"]) == set(names) - {"manifest.json", "manifest.sig"}
    for name, facts in manifest["files"].items():
        data = bundle.read(name)
        assert facts["sha256"] == hashlib.sha256(data).hexdigest() and facts["bytes"] == len(data)
    assert manifest["files"]["votes.jsonl"]["rows"] == 66
    assert manifest["kind"] == "votes" and manifest["format"] == "jsonl" and manifest["tickets"] == "plain"
    assert manifest["server_key_id"] == keys.key_id("hailong", key).hex()
    checkpoints = json.loads(bundle.read("checkpoints.json"))
    assert checkpoints["checkpoints"][-1]["id"] == manifest["checkpoint"]["id"]
    assert manifest["checkpoint"]["size"] == 66
    devices = json.loads(bundle.read("devices.json"))
    assert [d["id"] for d in devices] == sorted(d["id"] for d in devices) and len(devices) == 3
    assert set(devices[0]) == {"id", "counter", "public_key", "status", "enrolled_at", "revoked_at"}


def test_the_proof_lets_the_rows_rebuild_the_signed_root(bundle_db):
    path, _facts = bundle_db
    manifest, bundle = export(path, unit="DN-BH")
    rows = [typed(row) for row in csv_rows(bundle)[1]]
    proof = {}
    for line in bundle.read("proof.txt").decode("ascii").splitlines():
        start, end, digest = line.split(" ")
        proof[(int(start), int(end))] = base64.b64decode(digest)
    size = manifest["checkpoint"]["size"]
    root = base64.b64decode(manifest["checkpoint"]["root"])
    for row in rows:
        digest = leaf_of(row)
        for start, end in merkle.audit_path_ranges(row["leaf_index"], size):
            sibling = proof[(start, end)]
            digest = merkle.node_hash(digest, sibling) if start > row["leaf_index"] else merkle.node_hash(sibling, digest)
        assert digest == root


def test_an_export_publishes_a_checkpoint_only_when_the_latest_does_not_cover_the_tree(bundle_db):
    path, _facts = bundle_db
    db = storage.connect(path)
    signed = lambda: db.execute("SELECT trigger FROM log_checkpoints ORDER BY id").fetchall()  # noqa: E731
    before = signed()  # the fixture's own (its jobs may have signed some)
    first, _ = export(path)
    after_first = signed()
    again, _ = export(path)
    assert again["checkpoint"] == first["checkpoint"]
    assert signed() == after_first, "the second export found the tree covered"
    assert after_first[len(before):] in ([], [("export",)])
    db.close()


def unit_of(db):
    return {code: uid for uid, code in db.execute("SELECT id, code FROM units")}


def test_filters_take_exactly_the_votes_asked_for(bundle_db):
    path, _facts = bundle_db
    db = storage.connect(path)
    units = unit_of(db)
    all_votes = {uuid: rest for uuid, *rest in
                 db.execute("SELECT v.uuid, s.code, v.device_id, v.unit_id, v.counter_unit_id, v.counted_at,"
                            " v.flags IS NOT NULL OR EXISTS (SELECT 1 FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id"
                            "  WHERE fv.vote_id = v.id AND f.status IN ('open', 'confirmed'))"
                            " FROM votes v JOIN staff s ON s.id = v.staff_id")}
    db.close()

    def exported(**filters):
        return {row["vote_id"] for row in csv_rows(export(path, **filters)[1])[1]}

    # October 10 to 12 local time (UTC+7): from 2026-10-09T17:00Z to 2026-10-12T17:00Z.
    assert exported(**{"from": "2026-10-10", "to": "2026-10-12"}) == {
        u for u, v in all_votes.items() if "2026-10-09T17:00" <= v[4] < "2026-10-12T17:00"}
    assert exported(staff="NV002") == {u for u, v in all_votes.items() if v[0] == "NV002"}
    device = next(v[1] for v in all_votes.values() if v[0] == "NV004")
    assert exported(device=device) == {u for u, v in all_votes.items() if v[1] == device}
    assert exported(unit="DN-BH") == {u for u, v in all_votes.items() if units["DN-BH"] in (v[2], v[3])}
    assert exported(unit="DN") == set(all_votes)
    flagged = {u for u, v in all_votes.items() if v[5]}
    assert flagged and exported(flagged="only") == flagged
    assert exported(flagged="exclude") == set(all_votes) - flagged


def test_sequence_ranges_name_what_the_filters_left_out(bundle_db):
    path, facts = bundle_db
    _, bundle = export(path, staff="NV003")
    sequence = json.loads(bundle.read("sequence.json"))
    device = facts["devices"]["in"]  # DN-TT-Q1: NV001 and NV003 take turns, NV001's vote of the people db first
    assert set(sequence) == {device}
    exported = sorted(int(row["seq"]) for row in csv_rows(bundle)[1])
    entry = sequence[device]
    assert entry["first_seq"] == 1 and entry["last_seq"] == exported[-1]
    withheld = {seq for start, end in entry["withheld"] for seq in range(start, end + 1)}
    assert withheld.isdisjoint(exported)
    assert withheld | set(exported) == set(range(1, entry["last_seq"] + 1))
    _, everything = export(path)
    assert all(not entry["withheld"] for entry in json.loads(everything.read("sequence.json")).values())


def test_hashed_tickets_are_keyed_hashes_and_the_key_is_the_owners_alone(bundle_db):
    path, _facts = bundle_db
    manifest, bundle = export(path, hash_tickets=True)
    tickets = {row["ticket"] for row in csv_rows(bundle)[1]} - {""}  # the people database's votes have none
    assert manifest["tickets"] == "hmac-sha256"
    assert all(t.startswith("hmac-sha256:") and len(t) == len("hmac-sha256:") + 32 for t in tickets)
    assert len(tickets) == len(TICKETS)
    key_file = path.parent / "ticket-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = {row["ticket"] for row in csv_rows(export(path, hash_tickets=True)[1])[1]} - {""}
    assert again == tickets, "the same key, the same hashes"


def test_an_auditor_exports_only_their_units_and_is_refused_another_unit(bundle_db):
    path, _facts = bundle_db
    actor = auditor(path)
    _, bundle = export(path, actor)
    rows = csv_rows(bundle)[1]
    assert rows and all("DN-TT" in (row["unit"], row["counter_unit"]) for row in rows)
    assert not any(row["counter"] == "DN-BH-Q1" for row in rows)
    with pytest.raises(Forbidden):
        export(path, auditor(path), unit="DN-BH")
    with pytest.raises(Forbidden):
        export(path, auditor(path, "hr"))


def test_bad_filters_are_refused_by_field_before_anything_is_written(bundle_db):
    path, _facts = bundle_db
    for filters, field in (({"from": "2026-13-01"}, "from"), ({"from": "2026-10-05", "to": "2026-10-01"}, "to"),
                           ({"unit": "NOPE"}, "unit"), ({"staff": "NOPE"}, "staff"), ({"device": "x"}, "device"),
                           ({"flagged": "maybe"}, "flagged"), ({"format": "pdf"}, "format")):
        with pytest.raises(Invalid) as refused:
            export(path, **filters)
        assert field in refused.value.fields


def test_every_export_leaves_one_audit_entry_with_its_filters_and_counts(bundle_db):
    path, _facts = bundle_db
    export(path, auditor(path), staff="NV001")
    db = storage.connect(path)
    rows = db.execute("SELECT actor, object_type, after FROM audit_log WHERE action = 'export'").fetchall()
    db.close()
    assert len(rows) == 1 and rows[0][:2] == ("auditor", "votes")
    after = json.loads(rows[0][2])
    assert after["filters"]["staff"] == "NV001" and after["counts"]["votes"] > 0 and after["complete"] is True


def test_the_audit_log_exports_as_a_bundle_of_its_own(bundle_db):
    path, _facts = bundle_db
    db = storage.connect(path)
    out = io.BytesIO()
    manifest = exports.export_audit(db, cli_actor(), settings_for(path), {"format": "csv"}, out)
    db.close()
    bundle = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert sorted(bundle.namelist()) == ["audit.csv", "checkpoints.json", "manifest.json", "manifest.sig",
                                         "proof.txt"]
    header, rows = csv_rows(bundle, "audit.csv")
    assert header == list(exports.bundle.AUDIT_COLUMNS) and len(rows) == manifest["counts"]["audit"] > 0
    db = storage.connect(path)
    for row in rows:
        stored = {name: value for name, value in zip(
            leaves.AUDIT_FIELDS, db.execute(f"SELECT {', '.join(leaves.AUDIT_FIELDS)} FROM audit_log WHERE id = ?",
                                            [int(row["id"])]).fetchone())}
        leaf = db.execute("SELECT hash FROM log_leaves WHERE tree = 'audit' AND idx = ?",
                          [int(row["leaf_index"])]).fetchone()[0]
        assert merkle.leaf_hash(leaves.audit_leaf(stored)) == bytes(leaf)
        assert formats.uninert(row["after"]) == (stored["after"] or "")
    db.close()


def test_the_audit_log_export_keeps_to_the_audit_pages_filters_and_still_verifies(bundle_db, tmp_path):
    path, _facts = bundle_db
    db = storage.connect(path)
    wanted = db.execute("SELECT action, COUNT(*) FROM audit_log GROUP BY action ORDER BY 2 DESC").fetchone()
    folder = tmp_path / "bundle"
    folder.mkdir()
    with open(folder / "out.zip", "wb") as out:
        manifest = exports.export_audit(db, cli_actor(), settings_for(path),
                                        {"format": "jsonl", "action": wanted[0]}, out)
    db.close()
    bundle = zipfile.ZipFile(folder / "out.zip")
    rows = [json.loads(line) for line in bundle.read("audit.jsonl").decode().splitlines()]
    assert manifest["filters"]["action"] == wanted[0] and manifest["counts"]["audit"] == len(rows)
    assert 0 < len(rows) <= wanted[1] and {row["action"] for row in rows} == {wanted[0]}
    checked = hailong("--instance", str(path.parent), "--database", str(path), "verify", str(folder / "out.zip"))
    assert "Result: OK" in checked.stdout


def test_the_cli_writes_a_zip_or_a_folder_and_says_what_it_wrote(bundle_db, tmp_path):
    path, _facts = bundle_db
    target = tmp_path / "oct.zip"
    done = hailong("--instance", str(path.parent), "--database", str(path), "export", "--unit", "DN-BH",
                   "--format", "jsonl", "-o", str(target))
    assert "Wrote" in done.stderr and "votes" in done.stderr
    bundle = zipfile.ZipFile(target)
    rows = [json.loads(line) for line in bundle.read("votes.jsonl").decode().splitlines()]
    assert rows and all("DN-BH" in (row["unit"], row["counter_unit"]) for row in rows)
    folder = tmp_path / "bundle"
    hailong("--instance", str(path.parent), "--database", str(path), "export", "--kind", "audit", "-o",
            f"{folder}/")
    assert (folder / "manifest.json").exists() and (folder / "audit.csv").exists()
    refused = hailong("--instance", str(path.parent), "--database", str(path), "export", "--unit", "NOPE", "-o",
                      str(tmp_path / "x.zip"), check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: No unit with this code.")
    assert "Traceback" not in refused.stderr and not (tmp_path / "x.zip").exists()


def test_the_api_streams_the_bundle_within_scope_and_refuses_another_unit(bundle_db):
    from tests.people import app_for

    path, facts = bundle_db
    client = app_for(path).test_client()
    token = {"Authorization": f"Bearer {facts['tokens']['auditor']}"}
    response = client.get("/api/v1/exports/votes?format=csv&bom=true", headers=token)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="hailong-votes-')
    bundle = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert all("DN-TT" in (r["unit"], r["counter_unit"]) for r in csv_rows(bundle)[1])
    refused = client.get("/api/v1/exports/votes?unit=DN-BH", headers=token)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    bad = client.get("/api/v1/exports/votes?from=yesterday", headers=token)
    assert bad.status_code == 400 and "from" in bad.get_json()["error"]["fields"]
    manager = client.get("/api/v1/exports/votes", headers={"Authorization": f"Bearer {facts['tokens']['manager']}"})
    assert manager.status_code == 403
    audit = client.get("/api/v1/exports/audit?format=xlsx", headers=token)
    assert audit.status_code == 200 and "audit.xlsx" in zipfile.ZipFile(io.BytesIO(audit.get_data())).namelist()
    spec = client.get("/api/openapi.json").get_json()
    assert "application/zip" in spec["paths"]["/api/v1/exports/votes"]["get"]["responses"]["200"]["content"]


def test_the_page_downloads_within_scope_and_refuses_another_unit(bundle_db):
    path, _facts = bundle_db
    client, _headers = signed_in(path, "auditor")
    page = client.get("/admin/exports", headers={"Accept-Language": "vi"})
    assert page.status_code == 200 and 'action="/admin/exports/votes.zip"' in page.get_data(as_text=True)
    response = client.get("/admin/exports/votes.zip?format=xlsx&flagged=include")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "votes.xlsx" in zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()
    assert client.get("/admin/exports/votes.zip?unit=DN-BH").status_code == 403
    bad = client.get("/admin/exports/votes.zip?staff=NOPE", headers={"Accept-Language": "en"})
    assert bad.status_code == 400 and "No staff member with this code." in bad.get_data(as_text=True)
    manager, _ = signed_in(path, "manager")
    assert manager.get("/admin/exports").status_code == 403

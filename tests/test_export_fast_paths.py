"""The export's fast paths write the same bytes as the reference paths (issue 10, performance).

A votes CSV written by SQLite (server/exports/sql_csv.py) against the csv
module's (``bundle.FAST = False``), on rows full of awkward values: every
file of the bundle but the manifest (its time) must be byte for byte the same.
proof.txt written a block of the tree at a time (server/exports/proof.py)
against ``log.proof_nodes``, on random index sets and tree sizes, and for an
export of every row, written in a thread while SQLite writes the rows.
On PostgreSQL the export takes the csv module's path and writes the proof
after the rows: the same rows on both backends give the same files byte for
byte, and its stored hashes read as one blob (``string_agg``) are SQLite's.
"""

import binascii
import datetime as dt
import io
import random
import zipfile

import pytest

from migrations import migrations
from server import orgimport, storage
from server.exports import bundle, proof, sql_csv
from server.ledger import keys, log
from server.manage import exports
from server.manage.actor import cli_actor
from server.settings import DEFAULTS
from server.storage import devices as device_storage
from server.storage import exports as store
from server.storage import ledger as store_ledger
from server.storage import ledger_paths
from tests.export_data import add_votes
from tests.ledger_data import add_votes as add_plain_votes
from tests.ledger_data import make_database
from tests.live import ORG_CSV

# Tickets a spreadsheet would run or a CSV must quote; each starts a formula or holds a comma, quote or line end.
TICKETS = ["=1+1", "+84 912", "-5", "@SUM(A1)", "\tTAB", "\rCR", "'quoted", "A017", "Số 5, \"quầy\"\nhai",
           "Nguyễn Thị Hồng", "a,b", 'say "hi"', "line\r\nend", "", "  spaced  ", "😀"]


def settings_for(path, instance=None):
    return {**DEFAULTS, "INSTANCE": str(instance or path.parent), "DATABASE": str(path)}


@pytest.fixture
def awkward_db(people):
    """The people database with 300 more votes whose every SQL-written cell is awkward somewhere.

    Codes that start formulas or hold commas and quotes, signatures starting
    with ``+``, tickets of every kind, reasons empty and not, comma-separated
    flags, scan flags with their reviews (Vietnamese, quotes, line ends and
    control characters in the reasons), null and negative clock offsets,
    corrected times. The log is caught up after, so the leaves are the rows'.
    """
    path, facts = people
    keys.ensure_key(str(path.parent))
    db = storage.connect(path)
    devices = {"DN-TT-Q1": facts["devices"]["in"], "DN-TT-Q2": facts["devices"]["in2"],
               "DN-BH-Q1": facts["devices"]["out"]}
    add_awkward_votes(db, devices)
    log.catch_up(db, "votes")
    db.close()
    return path


def add_awkward_votes(db, devices):
    """300 votes through ``devices`` (``{counter code: device id}``), made awkward as ``awkward_db`` says."""
    add_votes(db, devices, 300, tickets=TICKETS, catch_up=False)
    with storage.write_transaction(db):
        db.execute("UPDATE units SET code = '=DN,\"TT\"' WHERE code = 'DN-TT'")
        db.execute("UPDATE staff SET code = '-NV002' WHERE code = 'NV002'")
        db.execute("UPDATE counters SET code = 'Quầy, 1' WHERE code = 'DN-TT-Q1'")
        db.execute("UPDATE votes SET signature = '+' || substr(signature, 2) WHERE id % 5 = 0")
        db.execute("UPDATE votes SET reasons = '' WHERE id % 7 = 0")
        db.execute("UPDATE votes SET flags = 'rapid_repeat' WHERE id % 11 = 0")
        db.execute("UPDATE votes SET flags = 'time_corrected,rapid_repeat,đặc biệt' WHERE id % 13 = 0")
        db.execute("UPDATE votes SET clock_offset_ms = NULL WHERE id % 17 = 0")
        db.execute("UPDATE votes SET clock_offset_ms = -1500, time_corrected = 1 WHERE id % 19 = 0")
        reasons = [None, "Đúng quy trình, \"đã xem\"\nxong", "tab\there", "ctrl\x01\x1f", "back\\slash", "x" * 90]
        for n, reason in enumerate(reasons, 1):
            flag_id = db.execute(
                "INSERT INTO flags (key, kind, severity, test, status, reviewed_at, review_reason, created_at)"
                " VALUES (?, 'burst', 'high', 'poisson', ?, ?, ?, '2026-11-01T00:00:00Z')",
                [f"awkward-{n}", "open" if reason is None else "dismissed",
                 None if reason is None else "2026-11-02T00:00:00Z", reason]).lastrowid
            for (vote_id,) in db.execute("SELECT id FROM votes WHERE id % ? = 0", [n + 2]).fetchall():
                db.execute("INSERT INTO flag_votes (flag_id, vote_id) VALUES (?, ?)", [flag_id, vote_id])


def bundle_files(path, fast, monkeypatch, settings=None, **filters):
    monkeypatch.setattr(bundle, "FAST", fast)
    db = storage.connect(path)
    try:
        out = io.BytesIO()
        manifest = exports.export_votes(db, cli_actor(), settings or settings_for(path), {"format": "csv", **filters},
                                        out)
    finally:
        db.close()
    files = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    return manifest, {name: files.read(name) for name in files.namelist() if not name.startswith("manifest")}


def count_chunks(monkeypatch):
    """How many chunks SQLite wrote, and how many went to the csv module instead."""
    seen = {"sql": 0, "python": 0}
    exact = sql_csv.exact

    def counted(copied, starts):
        result = exact(copied, starts)
        seen["sql" if result else "python"] += 1
        return result

    monkeypatch.setattr(sql_csv, "exact", counted)
    return seen


FILTERS = [{}, {"bom": True}, {"from": "2026-10-05", "to": "2026-10-20"}, {"staff": "NV001"},
           {"flagged": "only"}, {"flagged": "exclude"}, {"unit": "DN-BH"}]


def count_ahead(monkeypatch):
    """How many proofs were begun in a thread beside the rows, and how many were used."""
    seen = {"begun": 0, "used": 0}

    class Counted(proof.Ahead):
        def __init__(self, *args):
            seen["begun"] += 1
            super().__init__(*args)

        def copy_to(self, out):
            seen["used"] += 1
            return super().copy_to(out)

    monkeypatch.setattr(proof, "Ahead", Counted)
    return seen


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_sqlite_writes_the_csv_byte_for_byte_as_the_csv_module(awkward_db, monkeypatch, filters):
    monkeypatch.setattr(store, "CSV_CHUNK", 37)  # many chunks, and runs across them
    seen = count_chunks(monkeypatch)
    ahead = count_ahead(monkeypatch)
    fast_manifest, fast = bundle_files(awkward_db, True, monkeypatch, **filters)
    # Every row, every leaf: the proof was written in a thread while SQLite wrote the rows.
    assert ahead == ({"begun": 1, "used": 1} if set(filters) <= {"bom"} else {"begun": 0, "used": 0})
    slow_manifest, slow = bundle_files(awkward_db, False, monkeypatch, **filters)
    assert fast_manifest["counts"] == slow_manifest["counts"]
    assert fast_manifest["files"] == slow_manifest["files"]
    assert fast.keys() == slow.keys()
    for name in slow:
        assert fast[name] == slow[name], name
    # Every awkward value here is one SQLite writes itself: no chunk needed the csv module.
    assert seen["sql"] >= 1 and seen["python"] == 0
    assert fast_manifest["counts"]["votes"] > 0
    if not filters:
        assert b",'=1+1," in fast["votes.csv"] and b"''=1+1" not in fast["votes.csv"]
        assert b"\"'=DN,\"\"TT\"\"\"" in fast["votes.csv"]


def test_a_chunk_with_a_value_sqlite_only_copies_goes_through_the_csv_module(awkward_db, monkeypatch):
    db = storage.connect(awkward_db)
    with storage.write_transaction(db):
        db.execute("UPDATE votes SET local_time = '=cmd|' || local_time WHERE id = 40")
        db.execute("UPDATE votes SET uuid = 'a,\"b\"' || uuid WHERE id = 120")
        db.execute("UPDATE votes SET received_at = received_at || char(10) WHERE id = 200")
        db.execute("UPDATE votes SET flags = '[\"b\",\"a\"]' WHERE id = 250")
    db.close()
    monkeypatch.setattr(store, "CSV_CHUNK", 50)
    seen = count_chunks(monkeypatch)
    _, fast = bundle_files(awkward_db, True, monkeypatch)
    _, slow = bundle_files(awkward_db, False, monkeypatch)
    assert fast["votes.csv"] == slow["votes.csv"]
    assert fast["proof.txt"] == slow["proof.txt"]
    assert seen["python"] == 4 and seen["sql"] >= 2


def test_codes_that_need_escaping_are_given_as_their_cells(monkeypatch):
    cells = sql_csv.code_cells({"unit": {1: "DN", 2: "=X", 3: "a,b"}, "counter": {}, "staff": {4: "'q"}})
    assert cells == {"unit": {2: "'=X", 3: '"a,b"'}, "counter": {}, "staff": {4: "''q"}}
    monkeypatch.setattr(sql_csv, "MAX_CODE_CELLS", 1)
    assert sql_csv.code_cells({"unit": {2: "=X", 3: "a,b"}}) is None


def same_rows(path, folder):
    """The same rows on either backend (``path``: a migrated database): the org, three devices with fixed ids
    and times, the awkward votes, the votes tree and a checkpoint signed at a fixed time with ``folder``'s key."""
    db = storage.connect(path)
    try:
        org_file = folder / "org.csv"
        org_file.write_text(ORG_CSV, encoding="utf-8")
        orgimport.import_file(db, str(org_file))
        devices = {}
        with storage.write_transaction(db):
            for n, code in enumerate(("DN-TT-Q1", "DN-TT-Q2", "DN-BH-Q1")):
                devices[code] = f"dev-SAME000{n}"
                device_storage.insert_device(db, devices[code], storage.org.counter_by_code(db, code)["id"],
                                             chr(ord("a") + n) * 43, f"not a token {n}", "2026-09-01T00:00:00.000Z",
                                             "1.0-test")
        add_awkward_votes(db, devices)
        settings = settings_for(path, folder)
        log.publish(db, settings, "votes", "manual", now=dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.timezone.utc))
    finally:
        db.close()
    return settings


@pytest.mark.parametrize("filters", [{}, {"from": "2026-10-05", "to": "2026-10-20", "staff": "NV001"}],
                         ids=["all", "period-staff"])
def test_both_backends_write_the_same_bundle_byte_for_byte(tmp_path, request, monkeypatch, filters):
    """SQLite writes its votes CSV with printf and the proof in a thread; PostgreSQL takes the csv module's
    path and writes the proof after the rows: the same rows give the same files, and the same roots."""
    from tests.postgres import new_database

    (tmp_path / "sqlite").mkdir()
    keys.ensure_key(str(tmp_path))
    targets = [tmp_path / "sqlite" / "hailong.db",
               new_database(request.getfixturevalue("postgresql_cluster"),
                            request.getfixturevalue("postgresql_template"), tmp_path)]
    db = storage.connect(targets[0])
    migrations.apply(db)
    db.close()
    made, chunks = [], []
    for path in targets:
        settings = same_rows(path, tmp_path)
        chunks.append(count_chunks(monkeypatch))
        made.append(bundle_files(path, True, monkeypatch, settings=settings, **filters))
    assert chunks[0]["sql"] >= 1 and chunks[1] == {"sql": 0, "python": 0}  # SQLite's printf; the csv module
    (sqlite_manifest, sqlite_files), (postgresql_manifest, postgresql_files) = made
    assert sqlite_files.keys() == postgresql_files.keys()
    for name in sqlite_files:
        assert sqlite_files[name] == postgresql_files[name], name
    for manifest in (sqlite_manifest, postgresql_manifest):
        manifest.pop("created_at")
    assert sqlite_manifest == postgresql_manifest
    assert sqlite_manifest["counts"]["votes"] > 0 and sqlite_manifest["checkpoint"]["size"] == 300


@pytest.fixture
def tree_db(db_path, tmp_path):
    db, device = make_database(db_path, tmp_path)
    add_plain_votes(db, device, 700)
    log.catch_up(db, "votes")
    yield db
    db.close()


def node_by_node(db, indices, size):
    return "".join(f"{start} {end} {binascii.b2a_base64(digest, newline=False).decode()}\n"
                   for start, end, digest in log.proof_nodes(db, "votes", indices, size))


def block_wise(db, runs, size, block_level):
    pieces = proof.proof_text(db, "votes", runs, size, block_level=block_level)
    parts = []
    while True:
        try:
            parts.append(next(pieces))
        except StopIteration as done:
            text = "".join(parts)
            assert text.count("\n") == done.value
            return text


def runs_of(indices):
    runs = []
    for index in indices:
        if runs and runs[-1][1] == index:
            runs[-1][1] += 1
        else:
            runs.append([index, index + 1])
    return [tuple(run) for run in runs]


@pytest.mark.backends
def test_stored_hashes_read_as_one_blob_are_the_rows_hashes(tree_db):
    """``ledger_paths.padded_hashes``: SQLite's group_concat, PostgreSQL's string_agg over bytea, in idx order."""
    for level, first, last in ((0, 0, 699), (0, 13, 13), (0, 650, 720), (3, 2, 40), (9, 0, 0), (9, 1, 1)):
        rows = store_ledger.stored_hashes(tree_db, "votes", level, first, last)
        want = b"".join(bytes(digest) + ledger_paths.PAD for _, digest in rows)
        assert ledger_paths.padded_hashes(tree_db, "votes", level, first, last) == want
        assert len(want) == 33 * len(rows)
    assert ledger_paths.padded_hashes(tree_db, "votes", 0, 700, 800) == b""


@pytest.mark.backends
def test_block_wise_proof_lines_are_the_node_by_node_ones(tree_db):
    rng = random.Random(10)
    # Fewer shapes on PostgreSQL (a query per node is a round trip there): what it adds is ledger_paths' blob.
    for _ in range(150 if storage.dialect(tree_db) == "sqlite" else 40):
        size = rng.choice([0, 1, 2, 3, 5, 8, 64, 255, 256, 257, 511, 700, rng.randint(1, 700)])
        shape = rng.random()
        if size == 0:
            indices = []
        elif shape < 0.3:  # one run, as an unfiltered or period-filtered export
            first = rng.randint(0, size - 1)
            indices = list(range(first, rng.randint(first + 1, size)))
        elif shape < 0.7:  # a few runs
            indices = sorted({i for _ in range(rng.randint(1, 6)) for first in [rng.randint(0, size - 1)]
                              for i in range(first, min(size, first + rng.randint(1, 200)))})
        else:  # scattered
            indices = sorted(rng.sample(range(size), rng.randint(0, size)))
        want = node_by_node(tree_db, indices, size)
        for block_level in (1, 3, 6, proof.BLOCK_LEVEL):
            assert block_wise(tree_db, runs_of(indices), size, block_level) == want, (size, block_level)


@pytest.mark.backends
def test_block_wise_proof_refuses_what_the_tree_does_not_hold(tree_db):
    with pytest.raises(log.LogError):
        block_wise(tree_db, [(0, 5)], 701, 3)
    with pytest.raises(ValueError):
        block_wise(tree_db, [(3, 5), (4, 9)], 100, 3)
    with pytest.raises(ValueError):
        block_wise(tree_db, [(90, 101)], 100, 3)


def test_a_proof_written_ahead_is_the_block_wise_one_and_hands_over_its_error(tree_db, db_path):
    path = str(db_path)
    ahead = proof.Ahead(lambda: storage.connect(path), "votes", [(0, 700)], 700)
    try:
        lines, sha256, count = ahead.wait()
        out = io.BytesIO()
        for _ in ahead.copy_to(out):
            pass
    finally:
        ahead.close()
    want = node_by_node(tree_db, range(700), 700).encode()
    assert out.getvalue() == want and count == len(want) and lines == want.count(b"\n")

    def broken():
        raise OSError("no database here")

    ahead = proof.Ahead(broken, "votes", [(0, 700)], 700)
    with pytest.raises(OSError, match="no database here"):
        ahead.wait()
    ahead.close()

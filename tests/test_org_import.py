"""``hailong org import``: CSV/XLSX in, units, counters and staff upserted by code."""

import os
import pathlib
import shutil
import subprocess
import sys
import unicodedata

import openpyxl
import pytest

from devtools.demo_org import write_demo_org
from server.orgimport import ImportRejected, import_file
from server.storage import query

# On both backends: the tests that write the organisation (the import's SQL). Those that only read a
# file and refuse it before anything is written run on SQLite alone: nothing in them differs.
backends = pytest.mark.backends

HEADER = "kind,code,name,parent,title,active\n"

GOOD = HEADER + (
    "unit,DN,UBND tỉnh Đồng Nai,,,\n"
    "unit,DN-TTHCC,Trung tâm Phục vụ hành chính công tỉnh,DN,,yes\n"
    "counter,DN-TTHCC-Q1,Quầy 1 – Đất đai,DN-TTHCC,,1\n"
    "staff,NV001,Nguyễn Thị Hồng Nhung,DN-TTHCC,Chuyên viên,có\n"
    "staff,NV002,Trần Văn Minh,DN-TTHCC,,không\n"
)

OLD = "2020-01-01T00:00:00.000Z"


def write(tmp_path, text, name="org.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def units(db):
    return query(
        db,
        "SELECT u.code, u.name, p.code AS parent, u.active FROM units u"
        " LEFT JOIN units p ON p.id = u.parent_id ORDER BY u.code",
    )


def counters(db):
    return query(
        db,
        "SELECT c.code, c.name, u.code AS unit, c.active FROM counters c"
        " JOIN units u ON u.id = c.unit_id ORDER BY c.code",
    )


def staff(db):
    return query(
        db,
        "SELECT s.code, s.full_name, s.title, u.code AS unit, s.active FROM staff s"
        " JOIN units u ON u.id = s.unit_id ORDER BY s.code",
    )


def everything(db):
    return units(db), counters(db), staff(db)


def age_all_rows(db):
    """Backdate updated_at so a rewrite within the same millisecond still shows."""
    for table in ("units", "counters", "staff"):
        db.execute(f"UPDATE {table} SET updated_at = ?", [OLD])


def updated_codes(db):
    changed = {}
    for table in ("units", "counters", "staff"):
        rows = query(db, f"SELECT code FROM {table} WHERE updated_at != ? ORDER BY code", [OLD])
        changed[table] = [row["code"] for row in rows]
    return changed


GOOD_ROWS = (
    [
        {"code": "DN", "name": "UBND tỉnh Đồng Nai", "parent": None, "active": 1},
        {
            "code": "DN-TTHCC",
            "name": "Trung tâm Phục vụ hành chính công tỉnh",
            "parent": "DN",
            "active": 1,
        },
    ],
    [{"code": "DN-TTHCC-Q1", "name": "Quầy 1 – Đất đai", "unit": "DN-TTHCC", "active": 1}],
    [
        {
            "code": "NV001",
            "full_name": "Nguyễn Thị Hồng Nhung",
            "title": "Chuyên viên",
            "unit": "DN-TTHCC",
            "active": 1,
        },
        {
            "code": "NV002",
            "full_name": "Trần Văn Minh",
            "title": "",
            "unit": "DN-TTHCC",
            "active": 0,
        },
    ],
)


@backends
def test_a_csv_with_vietnamese_names_creates_units_counters_and_staff(db, tmp_path):
    summary = import_file(db, write(tmp_path, GOOD))

    assert everything(db) == GOOD_ROWS
    assert summary.as_dict() == {
        "units": {"created": 2, "updated": 0, "unchanged": 0},
        "counters": {"created": 1, "updated": 0, "unchanged": 0},
        "staff": {"created": 2, "updated": 0, "unchanged": 0},
        "assignments": {"created": 0, "updated": 0, "unchanged": 0},
    }
    assert summary.describe() == (
        "Imported org.csv: units 2 created, 0 updated, 0 unchanged;"
        " counters 1 created, 0 updated, 0 unchanged; staff 2 created, 0 updated, 0 unchanged."
    )


@backends
def test_decomposed_vietnamese_text_is_stored_composed(db, tmp_path):
    import_file(db, write(tmp_path, unicodedata.normalize("NFD", GOOD)))

    assert everything(db) == GOOD_ROWS
    name = staff(db)[0]["full_name"]
    assert unicodedata.is_normalized("NFC", name)


def test_a_csv_saved_by_excel_with_a_bom_and_semicolons_imports(db, tmp_path):
    text = GOOD.replace(",", ";").replace("Quầy 1 – Đất đai", '"Quầy 1 – Đất đai, nhà ở"')
    import_file(db, write(tmp_path, text, encoding="utf-8-sig"))

    assert units(db) == GOOD_ROWS[0]
    assert counters(db)[0]["name"] == "Quầy 1 – Đất đai, nhà ở"


def test_an_xlsx_workbook_imports_like_the_csv(db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Kind", "Code", "Name", "Parent", "Title", "Active"])
    sheet.append(["unit", "DN", "  UBND tỉnh Đồng Nai ", None, None, None])
    sheet.append([])  # blank rows are skipped
    sheet.append(["UNIT", "DN-TTHCC", "Trung tâm Phục vụ hành chính công tỉnh", "DN", None, True])
    sheet.append(["counter", "DN-TTHCC-Q1", "Quầy 1 – Đất đai", "DN-TTHCC", None, 1])
    sheet.append(["staff", "NV001", "Nguyễn Thị Hồng Nhung", "DN-TTHCC", "Chuyên viên", "Có"])
    sheet.append(["staff", "NV002", "Trần Văn Minh", "DN-TTHCC", None, False])
    sheet.append(["staff", 1001, "Lê Thị Thu Hà", "DN-TTHCC", None, None])
    path = tmp_path / "org.xlsx"
    book.save(path)

    import_file(db, path)

    assert units(db) == GOOD_ROWS[0]
    assert counters(db) == GOOD_ROWS[1]
    assert staff(db) == [
        {
            "code": "1001",
            "full_name": "Lê Thị Thu Hà",
            "title": "",
            "unit": "DN-TTHCC",
            "active": 1,
        },
        *GOOD_ROWS[2],
    ]


@backends
def test_importing_the_same_file_twice_changes_nothing(db, tmp_path):
    path = write(tmp_path, GOOD)
    import_file(db, path)
    age_all_rows(db)

    summary = import_file(db, path)

    assert everything(db) == GOOD_ROWS
    assert updated_codes(db) == {"units": [], "counters": [], "staff": []}
    assert summary.as_dict() == {
        "units": {"created": 0, "updated": 0, "unchanged": 2},
        "counters": {"created": 0, "updated": 0, "unchanged": 1},
        "staff": {"created": 0, "updated": 0, "unchanged": 2},
        "assignments": {"created": 0, "updated": 0, "unchanged": 0},
    }


@backends
def test_an_edited_file_updates_rows_in_place_and_leaves_absent_rows_alone(db, tmp_path):
    import_file(db, write(tmp_path, GOOD))
    age_all_rows(db)
    ids_before = query(db, "SELECT id, code FROM staff ORDER BY code")
    edited = HEADER + (
        "staff,NV001,Nguyễn Thị Hồng Nhung,DN-BH,Chuyên viên chính,no\n"
        "unit,DN-BH,Bộ phận Một cửa UBND thành phố Biên Hòa,DN,,\n"
        "counter,DN-TTHCC-Q1,Quầy 1 – Đất đai,DN-TTHCC,,\n"
    )

    summary = import_file(db, write(tmp_path, edited, name="edited.csv"))

    assert units(db)[1] == {
        "code": "DN-BH",
        "name": "Bộ phận Một cửa UBND thành phố Biên Hòa",
        "parent": "DN",
        "active": 1,
    }
    assert staff(db) == [
        {
            "code": "NV001",
            "full_name": "Nguyễn Thị Hồng Nhung",
            "title": "Chuyên viên chính",
            "unit": "DN-BH",
            "active": 0,
        },
        GOOD_ROWS[2][1],
    ]
    assert query(db, "SELECT id, code FROM staff ORDER BY code") == ids_before
    assert updated_codes(db) == {"units": ["DN-BH"], "counters": [], "staff": ["NV001"]}
    assert summary.as_dict()["staff"] == {"created": 0, "updated": 1, "unchanged": 0}


@backends
def test_units_may_come_after_the_rows_that_refer_to_them(db, tmp_path):
    lines = GOOD.splitlines(keepends=True)
    import_file(db, write(tmp_path, lines[0] + "".join(reversed(lines[1:]))))

    assert everything(db) == GOOD_ROWS


@backends
def test_a_file_with_errors_is_rejected_whole_with_every_problem(db, tmp_path):
    long_name = "Nguyễn " * 40
    bad = HEADER + (
        "unit,DN,UBND tỉnh Đồng Nai,,,\n"
        "quầy,Q1,Quầy 1,DN,,\n"
        "counter,Q 2,Quầy 2,DN,,\n"
        ",,,,,\n"
        "counter,Q3,,,,\n"
        "staff,NV001,Nguyễn Thị Hồng Nhung,DN,Chuyên viên,maybe\n"
        "staff,NV001,Trần Văn Minh,DN,,\n"
        "unit,DN-X,Phòng X,HCM-Q9,Trưởng phòng,\n"
        f"staff,NV003,{long_name},DN,,\n"
    )

    with pytest.raises(ImportRejected) as caught:
        import_file(db, write(tmp_path, bad))

    assert caught.value.problems == [
        "line 3, column kind: 'quầy' is not one of unit, counter, staff, assignment",
        "line 4, column code: 'Q 2' is not a valid code (1-64 letters, digits, '.', '_' or '-';"
        " starting with a letter or digit)",
        "line 6, column name: required",
        "line 6, column parent: required: the code of the unit this counter belongs to",
        "line 7, column active: 'maybe' is not yes/no (also 1/0, true/false, có/không)",
        "line 8, column code: staff 'NV001' already appears on line 7",
        "line 9, column parent: unit 'HCM-Q9' is not in the file or the database",
        "line 9, column title: only staff have a title; leave it blank for a unit",
        "line 10, column name: 279 characters; at most 200",
    ]
    assert everything(db) == ([], [], [])


@backends
def test_a_parent_change_that_makes_a_cycle_is_rejected(db, tmp_path):
    import_file(db, write(tmp_path, GOOD))
    cycle = HEADER + (
        "unit,A,Phòng A,B,,\n"
        "unit,B,Phòng B,A,,\n"
        "unit,DN,UBND tỉnh Đồng Nai,DN-TTHCC,,\n"
        "unit,C,Phòng C,C,,\n"
    )

    with pytest.raises(ImportRejected) as caught:
        import_file(db, write(tmp_path, cycle, name="cycle.csv"))

    assert caught.value.problems == [
        "line 2, column parent: units would form a cycle: A → B → A",
        "line 4, column parent: units would form a cycle: DN → DN-TTHCC → DN",
        "line 5, column parent: units would form a cycle: C → C",
    ]
    assert everything(db) == GOOD_ROWS


@backends
def test_a_parent_already_in_the_database_may_be_left_out_of_the_file(db, tmp_path):
    import_file(db, write(tmp_path, GOOD))
    more = HEADER + "counter,DN-TTHCC-Q2,Quầy 2 – Hộ tịch,DN-TTHCC,,\n"

    import_file(db, write(tmp_path, more, name="more.csv"))

    assert [c["code"] for c in counters(db)] == ["DN-TTHCC-Q1", "DN-TTHCC-Q2"]


@backends
def test_a_dry_run_reports_what_would_change_and_writes_nothing(db, tmp_path):
    summary = import_file(db, write(tmp_path, GOOD), dry_run=True)

    assert everything(db) == ([], [], [])
    assert summary.describe(dry_run=True) == (
        "Checked org.csv (dry run, nothing changed): units 2 to create, 0 to update, 0 unchanged;"
        " counters 1 to create, 0 to update, 0 unchanged;"
        " staff 2 to create, 0 to update, 0 unchanged."
    )


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", ["the file is empty; its first line must be: kind,code,name,parent,title,active"]),
        ("\n" + HEADER + ",,,\n", ["line 2: the file has a header but no rows"]),
        (
            "Kind,code,name,unit,Title\nunit,DN,Đồng Nai,,\n",
            [
                "line 1: unknown column(s) 'unit'",
                "line 1: missing column(s) 'parent', 'active'",
                "the header must be: kind,code,name,parent,title,active (in any order)",
            ],
        ),
    ],
)
def test_an_empty_file_a_bare_header_and_wrong_columns_are_rejected(db, tmp_path, text, problems):
    with pytest.raises(ImportRejected) as caught:
        import_file(db, write(tmp_path, text))

    assert caught.value.problems == problems


def test_a_file_that_is_not_utf8_is_rejected_with_a_clear_message(db, tmp_path):
    path = tmp_path / "org.csv"
    path.write_bytes((HEADER + "unit,DN,UBND tỉnh Đồng Nai,,,\n").encode("cp1258", "replace"))

    with pytest.raises(ImportRejected) as caught:
        import_file(db, path)

    assert caught.value.problems == [
        "line 2: the file is not UTF-8 text (byte 0xD0); in Excel use Save As >"
        " 'CSV UTF-8 (Comma delimited)', or import the .xlsx"
    ]


def test_an_unclosed_quote_or_a_control_character_is_reported_not_stored(db, tmp_path):
    unclosed = HEADER + 'unit,DN,"UBND tỉnh Đồng Nai,,,\nunit,DN-BH,Biên Hòa,DN,,\n'
    control = HEADER + "unit,DN,UBND tỉnh\x00Đồng Nai,,,\n"

    with pytest.raises(ImportRejected) as first:
        import_file(db, write(tmp_path, unclosed))
    with pytest.raises(ImportRejected) as second:
        import_file(db, write(tmp_path, control, name="control.csv"))

    assert first.value.problems == [
        "line 2: cannot read the CSV (unexpected end of data); check the quotes on this line"
    ]
    assert second.value.problems == [
        "line 2, column name: contains the control character U+0000; retype the cell"
    ]
    assert everything(db) == ([], [], [])


def test_files_that_are_not_csv_or_xlsx_are_rejected(db, tmp_path):
    with pytest.raises(ImportRejected) as caught:
        import_file(db, write(tmp_path, GOOD, name="org.xls"))
    assert caught.value.problems == ["org.xls: unsupported file type '.xls'; use .csv or .xlsx"]

    with pytest.raises(ImportRejected) as caught:
        import_file(db, write(tmp_path, GOOD, name="fake.xlsx"))
    assert caught.value.problems == [
        "fake.xlsx: not a readable .xlsx workbook (File is not a zip file)"
    ]


@backends
def test_the_demo_organisation_imports_cleanly(db, tmp_path):
    codes = write_demo_org(tmp_path / "demo.csv")

    summary = import_file(db, tmp_path / "demo.csv")

    assert summary.as_dict() == {
        "units": {"created": 4, "updated": 0, "unchanged": 0},
        "counters": {"created": 8, "updated": 0, "unchanged": 0},
        "staff": {"created": 15, "updated": 0, "unchanged": 0},
        "assignments": {"created": 0, "updated": 0, "unchanged": 0},
    }
    assert [c["code"] for c in counters(db)] == sorted(codes["counters"])
    assert {c["code"]: c["unit"] for c in counters(db)} == codes["unit_of_counter"]
    by_unit = {}
    for row in staff(db):
        by_unit.setdefault(row["unit"], []).append(row["code"])
    assert by_unit == codes["staff_by_unit"]


def test_the_documented_example_imports_cleanly(db):
    example = pathlib.Path(__file__).parent.parent / "docs" / "examples" / "org.csv"

    summary = import_file(db, example)

    assert summary.as_dict()["staff"] == {"created": 3, "updated": 0, "unchanged": 0}


def hailong(db_path, *args):
    exe = pathlib.Path(sys.executable).parent / "hailong"
    exe = str(exe) if exe.exists() else shutil.which("hailong")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
    return subprocess.run(
        [exe, "--database", str(db_path), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=db_path.parent,
        timeout=60,
    )


def test_the_cli_lists_every_problem_and_exits_1_without_a_traceback(db_path, tmp_path):
    bad = write(tmp_path, HEADER + "counter,Q1,Quầy 1,HCM-Q9,,\nstaff,NV001,,DN,,\n")

    result = hailong(db_path, "org", "import", str(bad))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"Error: {bad} was not imported; nothing was changed.",
        "  line 2, column parent: unit 'HCM-Q9' is not in the file or the database",
        "  line 3, column name: required",
        "  line 3, column parent: unit 'DN' is not in the file or the database",
    ]


@backends
def test_the_cli_imports_a_good_file_and_says_what_changed(db_path, db, tmp_path):
    path = write(tmp_path, GOOD)

    dry = hailong(db_path, "org", "import", "--dry-run", str(path))
    real = hailong(db_path, "org", "import", str(path))

    assert (dry.returncode, real.returncode) == (0, 0)
    assert dry.stdout.startswith("Checked org.csv (dry run, nothing changed): units 2 to create")
    assert real.stdout.startswith("Imported org.csv: units 2 created, 0 updated, 0 unchanged;")
    assert everything(db) == GOOD_ROWS

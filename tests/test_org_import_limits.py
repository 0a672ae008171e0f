"""A hostile or oversized import file is refused with a problem line, cheaply, and changes nothing.

The workbooks here are written by hand, part by part, so a test can put in
what Excel never would: a declared dimension that lies, a cell in column
16,384, XML entities, a part that unzips to 60 MB.
"""

import io
import tracemalloc
import zipfile

import pytest

from server import orgimport
from server.orgimport import ImportRejected, import_file
from tests.hostile import world as make_world

NS = "http://schemas.openxmlformats.org"
PARTS = {
    "[Content_Types].xml": f'<Types xmlns="{NS}/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": f'<Relationships xmlns="{NS}/package/2006/relationships"><Relationship Id="rId1" '
    f'Type="{NS}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<workbook xmlns="{NS}/spreadsheetml/2006/main" '
    f'xmlns:r="{NS}/officeDocument/2006/relationships"><sheets><sheet name="Org" sheetId="1" r:id="rId1"/>'
    "</sheets></workbook>",
    "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{NS}/package/2006/relationships"><Relationship '
    f'Id="rId1" Type="{NS}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>",
}
HEADER = ["kind", "code", "name", "parent", "title", "active"]
GOOD = [HEADER, ["unit", "DN", "Tỉnh Đồng Nai", "", "", ""], ["counter", "DN-Q1", "Quầy 1", "DN", "", ""]]


def cell(column, line, text):
    return f'<c r="{column}{line}" t="inlineStr"><is><t>{text}</t></is></c>'


def rows_xml(rows, first=1):
    return "".join(f'<row r="{line}">' + "".join(cell(col, line, v) for col, v in zip("ABCDEF", values)) + "</row>"
                   for line, values in enumerate(rows, start=first))


def sheet(data, dimension="A1:F3", prolog=""):
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{NS}/spreadsheetml/2006/main">'
            f'<dimension ref="{dimension}"/><sheetData>{data}</sheetData></worksheet>')


def workbook(path, sheet_xml, shared_strings=None):
    parts = dict(PARTS)
    if shared_strings:
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace("</Types>", (
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
        parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace("</Relationships>", (
            f'<Relationship Id="rId2" Type="{NS}/officeDocument/2006/relationships/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'))
        parts["xl/sharedStrings.xml"] = shared_strings
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return path


def problems(path):
    with pytest.raises(ImportRejected) as caught:
        orgimport.read_rows(path)
    return caught.value.problems


def test_a_handmade_workbook_reads_like_excels(tmp_path):
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD)))
    assert orgimport.read_rows(path) == [(line, values) for line, values in enumerate(GOOD, start=1)]


def test_a_sheet_that_declares_3000_rows_by_16384_columns_costs_what_it_holds(tmp_path):
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD), dimension="A1:XFD3000"))
    assert path.stat().st_size < 5_000
    tracemalloc.start()
    try:
        rows = orgimport.read_rows(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [line for line, _ in rows] == [1, 2, 3]
    assert peak < 20 * 2**20  # it took 860 MB when read-only mode trusted the dimension


def test_a_value_past_column_z_stops_the_reading_with_its_line(tmp_path):
    far = '<row r="3"><c r="XFD3" t="inlineStr"><is><t>x</t></is></c></row>'
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD[:2]) + far))
    assert problems(path) == ["line 3: a value in column 16384; the table must fit in the first 26 columns (A to Z)"]


def test_empty_formatted_cells_far_to_the_right_are_no_problem(tmp_path):
    styled = "".join(f'<row r="{n}"><c r="XFD{n}" s="0"/></row>' for n in range(4, 3000))
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD) + styled, dimension="A1:XFD3000"))
    assert [line for line, _ in orgimport.read_rows(path)] == [1, 2, 3]


def test_a_row_number_past_the_last_row_a_sheet_can_have_is_refused(tmp_path):
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD) + rows_xml([["unit", "X", "X"]], first=2**31)))
    assert problems(path) == ["line 1048577: past the last row a sheet can have (1048576)"]


def test_data_past_line_20000_is_refused_in_a_workbook_and_in_a_csv(tmp_path):
    units = [["unit", f"U{n}", f"Đơn vị {n}", "", "", ""] for n in range(20_000)]
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml([HEADER] + units)))
    assert problems(path) == ["line 20001: data past line 20000; split the file into smaller ones"]
    csv = tmp_path / "org.csv"
    csv.write_text("\n".join(",".join(row) for row in [HEADER] + units) + "\n", encoding="utf-8")
    assert problems(csv) == ["line 20001: data past line 20000; split the file into smaller ones"]
    csv.write_text("\n".join(",".join(row) for row in [HEADER] + units[:-1]) + "\n" * 50, encoding="utf-8")
    assert len(orgimport.read_rows(csv)) == 20_000  # blank lines at the end are no data


def test_more_than_200000_filled_cells_are_refused(tmp_path):
    wide = ",".join(["x"] * 26)
    path = tmp_path / "org.csv"
    path.write_text("\n".join([",".join(HEADER)] + [wide] * 8_000), encoding="utf-8")
    assert problems(path) == ["line 7694: more than 200000 filled cells; split the file into smaller ones"]


def test_a_cell_of_more_than_1000_characters_is_refused_before_it_is_cleaned(tmp_path):
    path = tmp_path / "org.csv"
    path.write_text(",".join(HEADER) + "\nunit,DN," + "Đ" * 40_000 + ",,,\n", encoding="utf-8")
    assert problems(path) == ["line 2: a cell of 40000 characters; a cell may hold at most 1000"]


def test_a_file_over_10_mb_is_refused_unread(tmp_path):
    path = tmp_path / "org.csv"
    path.write_bytes(b"#" * (10 * 2**20 + 1))
    assert problems(path) == ["org.csv: 10.0 MB; a file to import may have at most 10 MB"]


def test_a_workbook_that_unzips_to_60_mb_is_refused_before_it_is_parsed(tmp_path):
    padding = " " * (60 * 2**20)  # whitespace inside the sheet: valid XML, 60 KB zipped
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD) + padding))
    assert path.stat().st_size < 200_000
    assert problems(path) == ["org.xlsx: the workbook unzips to 60 MB; an import reads at most 50 MB"]


XXE = '<!DOCTYPE worksheet [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
LAUGHS = ("<!DOCTYPE worksheet [<!ENTITY a0 \"ha\">"
          + "".join(f'<!ENTITY a{n} "{("&a" + str(n - 1) + ";") * 10}">' for n in range(1, 10)) + "]>")


@pytest.mark.parametrize("prolog, entity", [(XXE, "&secret;"), (LAUGHS, "&a9;")], ids=["external", "laughs"])
def test_a_sheet_with_xml_entities_is_refused_without_expanding_them(tmp_path, prolog, entity):
    data = rows_xml(GOOD[:2]) + '<row r="3">' + cell("A", 3, entity) + "</row>"
    path = workbook(tmp_path / "org.xlsx", sheet(data, prolog=prolog))
    assert problems(path) == ["org.xlsx: the workbook declares XML entities (EntitiesForbidden), which spreadsheets"
                              " do not use; open it in Excel or LibreOffice and save it again"]


def test_entities_in_the_shared_strings_are_refused_too(tmp_path):
    strings = (f'<?xml version="1.0"?>{LAUGHS}<sst xmlns="{NS}/spreadsheetml/2006/main" count="1" uniqueCount="1">'
               "<si><t>&a9;</t></si></sst>")
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD)), shared_strings=strings)
    assert "declares XML entities" in problems(path)[0]


@pytest.mark.parametrize("sheet_xml", [
    "<worksheet><sheetData><row r='1'><c r='A1'",  # cut off
    f'<worksheet xmlns="{NS}/spreadsheetml/2006/main"><sheetData><row r="x"/></sheetData></worksheet>',
    "not xml at all",
], ids=["cut-off", "bad-row-number", "not-xml"])
def test_a_broken_sheet_is_an_unreadable_workbook_not_a_crash(tmp_path, sheet_xml):
    path = workbook(tmp_path / "org.xlsx", sheet_xml)
    assert problems(path)[0].startswith("org.xlsx: not a readable .xlsx workbook (")


def test_a_workbook_without_a_sheet_is_an_unreadable_workbook(tmp_path):
    path = tmp_path / "org.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", PARTS["[Content_Types].xml"])
    assert problems(path)[0].startswith("org.xlsx: not a readable .xlsx workbook (")


def test_a_hostile_workbook_through_the_api_is_a_list_of_problems_and_changes_nothing(people_template, tmp_path):
    world = make_world(people_template, tmp_path)
    data = rows_xml(GOOD[:2]) + '<row r="3">' + cell("A", 3, "&a9;") + "</row>"
    hostile = workbook(tmp_path / "org.xlsx", sheet(data, prolog=LAUGHS)).read_bytes()
    before = world.snapshot()
    answer = world.client.post("/api/v1/staff/import?apply=1", headers=world.admin(),
                               content_type="multipart/form-data", data={"file": (io.BytesIO(hostile), "org.xlsx")})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "import_rejected"
    assert "declares XML entities" in answer.json["error"]["fields"]["file"][0]
    assert world.snapshot() == before


def test_import_file_refuses_the_whole_file_at_a_limit(db, tmp_path):
    path = workbook(tmp_path / "org.xlsx", sheet(rows_xml(GOOD) + rows_xml([["unit", "X", "X"]], first=20_001)))
    with pytest.raises(ImportRejected):
        import_file(db, path)
    assert db.execute("SELECT COUNT(*) FROM units").fetchone() == (0,)

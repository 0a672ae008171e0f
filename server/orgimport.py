"""Load units, counters and staff from a CSV or XLSX file (``hailong org import``).

The file is the organisation as the province's HR office keeps it in a
spreadsheet; docs/org-import.md is its contract. A file with any problem is
rejected whole, with every problem listed, because a half-applied roster
(staff without their unit, a unit under the wrong parent) is worse than none.
A good file is applied in one ``BEGIN IMMEDIATE`` transaction. Rows are
upserted by (kind, code) and compared before writing, so importing the same
file twice changes nothing. Nothing is deleted: people leave by ``active=no``.
"""

import csv
import datetime as dt
import dataclasses
import io
import os
import re
import unicodedata
import warnings
import zipfile

from server.errors import N_
from server.storage import org as org_storage
from server.storage import rosters
from server.storage import staff as staff_storage
from server.storage import timestamp, write_transaction

COLUMNS = ("kind", "code", "name", "parent", "title", "active")
# Optional columns, for assignment rows only: the days a person serves at a counter.
DAY_COLUMNS = ("valid_from", "valid_to")
KINDS = ("unit", "counter", "staff", "assignment")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MAX_TEXT = 200
TRUE_WORDS = {"", "yes", "y", "1", "true", "có", "co"}
FALSE_WORDS = {"no", "n", "0", "false", "không", "khong"}


class ImportRejected(Exception):
    """The file was not applied; ``problems`` lists every reason, one line each."""

    def __init__(self, problems):
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:3]))
        self.problems = list(problems)


@dataclasses.dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclasses.dataclass
class Summary:
    """What an import did (or, for a dry run, would do), per kind of row."""

    file: str
    units: Counts = dataclasses.field(default_factory=Counts)
    counters: Counts = dataclasses.field(default_factory=Counts)
    staff: Counts = dataclasses.field(default_factory=Counts)
    assignments: Counts = dataclasses.field(default_factory=Counts)

    def of(self, kind):
        return {"unit": self.units, "counter": self.counters, "staff": self.staff,
                "assignment": self.assignments}[kind]

    def as_dict(self):
        return {
            "units": dataclasses.asdict(self.units),
            "counters": dataclasses.asdict(self.counters),
            "staff": dataclasses.asdict(self.staff),
            "assignments": dataclasses.asdict(self.assignments),
        }

    def describe(self, dry_run=False):
        verbs = ("to create", "to update") if dry_run else ("created", "updated")
        groups = (("units", self.units), ("counters", self.counters), ("staff", self.staff))
        if self.assignments != Counts():
            groups += (("assignments", self.assignments),)
        parts = [
            f"{label} {c.created} {verbs[0]}, {c.updated} {verbs[1]}, {c.unchanged} unchanged"
            for label, c in groups
        ]
        head = f"Imported {self.file}"
        if dry_run:
            head = f"Checked {self.file} (dry run, nothing changed)"
        return f"{head}: {'; '.join(parts)}."


@dataclasses.dataclass
class Entry:
    """One valid-looking data row; ``parent`` is a unit code (a counter code for an assignment) or None."""

    line: int
    kind: str
    code: str
    name: str
    parent: str | None
    title: str
    active: int
    valid_from: str | None = None
    valid_to: str | None = None

    @property
    def key(self):
        """What the row is, across the file and the database: an assignment is a person, a counter, a first day."""
        if self.kind == "assignment":
            return (self.code, self.parent, self.valid_from)
        return self.code


def import_file(db, path, dry_run=False):
    """Validate FILE against the database and apply it, or raise ``ImportRejected``.

    The real run checks and writes inside one write transaction, so what was
    checked is what gets written even if someone else imports meanwhile.
    """
    entries, problems = parse_rows(read_rows(path))
    name = os.path.basename(str(path))
    if dry_run:
        return _plan_and_apply(db, name, entries, problems, apply=False)
    with write_transaction(db):
        return _plan_and_apply(db, name, entries, problems, apply=True)


# --- Reading the file --------------------------------------------------------


def read_rows(path):
    """``[(line, [cell text, ...]), ...]`` from a .csv or .xlsx, blank rows included."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext == ".csv":
        return _read_csv(path)
    if ext == ".xlsx":
        return _read_xlsx(path)
    name = os.path.basename(str(path))
    raise ImportRejected([N_("%(file)s: unsupported file type '%(ext)s'; use .csv or .xlsx", file=name,
                             ext=ext or "(none)")])


def _read_csv(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected([N_(
            "line %(line)s: the file is not UTF-8 text (byte 0x%(byte)s); in Excel use Save As >"
            " 'CSV UTF-8 (Comma delimited)', or import the .xlsx", line=line, byte="%02X" % data[exc.start],
        )]) from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    # Excel in locales with a decimal comma (vi-VN among them) separates with ';'.
    delimiter = ";" if ";" in first and "," not in first else ","
    # strict: an unclosed quote is an error, not a cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    try:
        for line, cells in enumerate(reader, start=1):
            rows.append((line, cells))
    except csv.Error as exc:
        line = len(rows) + 1
        message = N_("line %(line)s: cannot read the CSV (%(error)s); check the quotes on this line",
                     line=line, error=str(exc))
        raise ImportRejected([message]) from None
    return rows


def _read_xlsx(path):
    import openpyxl  # server extra; only the importer needs it

    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it skips (data validation, styles): noise here.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                rows = [
                    (line, [_cell_text(v) for v in values])
                    for line, values in enumerate(sheet.iter_rows(values_only=True), start=1)
                ]
            finally:
                book.close()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportRejected([N_("%(file)s: not a readable .xlsx workbook (%(error)s)",
                                 file=os.path.basename(str(path)), error=str(exc))]) from None
    return rows


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as 101 comes back as 101.0
    return str(value)


# --- Checking rows without the database ------------------------------------


def _clean(text):
    # Zero-width spaces and stray BOMs come with text pasted from the web; they are invisible.
    text = text.replace("\u200b", "").replace("\ufeff", "")
    return unicodedata.normalize("NFC", text).strip()


def parse_rows(rows):
    """Header and per-row checks, no database: ``(entries, [(line, column, message), ...])``."""
    rows = [(line, [_clean(c) for c in cells]) for line, cells in rows]
    data = [(line, cells) for line, cells in rows if any(cells)]
    if not data:
        raise ImportRejected([N_("the file is empty; its first line must be: %(columns)s", columns=",".join(COLUMNS))])
    header_line, header = data[0]
    header = [h.lower() for h in header]
    unknown = [h for h in header if h and h not in COLUMNS + DAY_COLUMNS]
    missing = [c for c in COLUMNS if c not in header]
    doubled = sorted({h for h in header if h and header.count(h) > 1})
    bad = []
    if unknown:
        bad.append(N_("line %(line)s: unknown column(s) %(columns)s", line=header_line,
                      columns=", ".join(map(repr, unknown))))
    if missing:
        bad.append(N_("line %(line)s: missing column(s) %(columns)s", line=header_line,
                      columns=", ".join(map(repr, missing))))
    if doubled:
        bad.append(N_("line %(line)s: repeated column(s) %(columns)s", line=header_line,
                      columns=", ".join(map(repr, doubled))))
    if bad:
        raise ImportRejected(bad + [N_("the header must be: %(columns)s (in any order)", columns=",".join(COLUMNS))])
    if len(data) == 1:
        raise ImportRejected([N_("line %(line)s: the file has a header but no rows", line=header_line)])

    position = {name: i for i, name in enumerate(header) if name}
    entries, problems, first_seen = [], [], {}
    for line, cells in data[1:]:
        extra = [c for i, c in enumerate(cells) if c and (i >= len(header) or not header[i])]
        if extra:
            values = ", ".join(map(repr, extra))
            problems.append((line, -1, N_("line %(line)s: value(s) %(values)s outside the named columns",
                                          line=line, values=values)))
        row = {name: cells[i] if i < len(cells) else "" for name, i in position.items()}
        entry, row_problems = _parse_row(line, row)
        problems += row_problems
        if entry is None:
            continue
        earlier = first_seen.setdefault((entry.kind, entry.key), line)
        if earlier != line:
            message = N_("%(kind)s '%(code)s' already appears on line %(earlier)s", kind=entry.kind,
                         code=entry.code, earlier=earlier)
            problems.append(_problem(line, "code", message))
        else:
            entries.append(entry)
    return entries, problems


def _problem(line, column, message):
    return (line, (COLUMNS + DAY_COLUMNS).index(column),
            N_("line %(line)s, column %(column)s: %(problem)s", line=line, column=column, problem=message))


def _too_long(text):
    return N_("%(count)s characters; at most %(limit)s", count=len(text), limit=MAX_TEXT)


def _parse_row(line, row):
    """One data row: an ``Entry`` (or None when kind/code are unusable) and its problems."""
    problems = []
    for column, value in row.items():
        bad = [ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"]
        if bad:
            character = "%04X" % ord(bad[0])
            message = N_("contains the control character U+%(code)s; retype the cell", code=character)
            problems.append(_problem(line, column, message))
    kind = row["kind"].lower()
    if not kind:
        problems.append(_problem(line, "kind", N_("required (unit, counter, staff or assignment)")))
    elif kind not in KINDS:
        message = N_("'%(value)s' is not one of unit, counter, staff, assignment", value=row["kind"])
        problems.append(_problem(line, "kind", message))
        kind = ""
    code = row["code"]
    if not code:
        problems.append(_problem(line, "code", N_("required")))
    elif not CODE_RE.match(code):
        problems.append(
            _problem(
                line,
                "code",
                N_("'%(code)s' is not a valid code (1-64 letters, digits, '.', '_' or '-';"
                   " starting with a letter or digit)", code=code),
            )
        )
        code = ""
    # Names are compared for idempotence, so collapse stray inner spaces (NBSP from Word too).
    name, title = " ".join(row["name"].split()), " ".join(row["title"].split())
    if not name and kind != "assignment":
        problems.append(_problem(line, "name", N_("required")))
    elif len(name) > MAX_TEXT:
        problems.append(_problem(line, "name", _too_long(name)))
    if kind in ("counter", "staff") and not row["parent"]:
        message = N_("required: the code of the unit this %(kind)s belongs to", kind=kind)
        problems.append(_problem(line, "parent", message))
    if kind == "assignment" and not row["parent"]:
        problems.append(_problem(line, "parent", N_("required: the code of the counter the person is assigned to")))
    if kind in ("unit", "counter", "assignment") and title:
        message = N_("only staff have a title; leave it blank for a %(kind)s", kind=kind)
        problems.append(_problem(line, "title", message))
    elif len(title) > MAX_TEXT:
        problems.append(_problem(line, "title", _too_long(title)))
    word = row["active"].lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        message = N_("'%(value)s' is not yes/no (also 1/0, true/false, có/không)", value=row["active"])
        problems.append(_problem(line, "active", message))
    days, day_problems = _parse_days(line, kind, row, word in FALSE_WORDS)
    problems += day_problems
    if not kind or not code:
        return None, problems
    active = int(word not in FALSE_WORDS)
    return Entry(line, kind, code, name, row["parent"] or None, title, active, *days), problems


def _parse_days(line, kind, row, inactive):
    """``((valid_from, valid_to), problems)``: an assignment's days; no other row has any."""
    texts = {column: row.get(column, "") for column in DAY_COLUMNS}
    if kind != "assignment":
        problems = [_problem(line, column, N_("only assignment rows have days; leave it blank"))
                    for column, text in texts.items() if text]
        return (None, None), problems
    problems, days = [], {}
    for column, text in texts.items():
        try:
            days[column] = dt.date.fromisoformat(text).isoformat() if text else None
        except ValueError:
            problems.append(_problem(line, column, N_("'%(value)s' is not a date like 2026-12-01", value=text)))
            days[column] = None
    if not texts["valid_from"]:
        problems.append(_problem(line, "valid_from", N_("required: the first day of the assignment")))
    elif days["valid_from"] and days["valid_to"] and days["valid_to"] < days["valid_from"]:
        problems.append(_problem(line, "valid_to", N_("the last day comes before the first")))
    if inactive:
        problems.append(_problem(line, "active", N_("an assignment ends on its valid_to day; leave active blank")))
    return (days["valid_from"], days["valid_to"]), problems


# --- Checking against the database, planning, applying ----------------------


def _plan_and_apply(db, file_name, entries, problems, apply):
    existing = org_storage.org_for_import(db)
    problems = problems + _check_parents(entries, existing) + _check_assignments(entries, existing)
    if problems:
        raise ImportRejected([message for _, _, message in sorted(problems)])
    summary = Summary(file_name)
    changes = []
    for entry in entries:
        old = existing[entry.kind].get(entry.key)
        counts = summary.of(entry.kind)
        if old is None:
            counts.created += 1
        elif _same(old, entry):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        changes.append((entry, old))
    if apply and changes:
        _apply(db, changes, existing)
    return summary


def _same(old, entry):
    if entry.kind == "assignment":
        return old["valid_to"] == entry.valid_to
    return (
        old["name"] == entry.name
        and old["parent"] == entry.parent
        and old["active"] == entry.active
        and old.get("title", "") == entry.title
    )


def _check_parents(entries, existing):
    """Parents must exist (here or in the database) and units must stay a tree."""
    problems = []
    file_units = {e.code: e for e in entries if e.kind == "unit"}
    known = set(file_units) | set(existing["unit"])
    for e in entries:
        if e.parent and e.kind != "assignment" and e.parent not in known:
            message = N_("unit '%(code)s' is not in the file or the database", code=e.parent)
            problems.append(_problem(e.line, "parent", message))
    parent_of = {code: row["parent"] for code, row in existing["unit"].items()}
    parent_of.update({code: e.parent for code, e in file_units.items()})
    done = set()
    for e in sorted(file_units.values(), key=lambda e: e.line):
        path, code = [], e.code
        while code is not None and code not in done:
            if code in path:
                cycle = path[path.index(code) :] + [code]
                first = min((file_units[c] for c in cycle if c in file_units), key=lambda u: u.line)
                message = N_("units would form a cycle: %(cycle)s", cycle=" → ".join(cycle))
                problems.append(_problem(first.line, "parent", message))
                break
            path.append(code)
            code = parent_of.get(code)
        done.update(path)
    return problems


def _check_assignments(entries, existing):
    """An assignment names a counter and a person (in the file or the database) of another unit,
    and does not overlap another assignment of theirs at that counter."""
    problems = []
    unit_of = {kind: {code: row["parent"] for code, row in existing[kind].items()} for kind in ("counter", "staff")}
    for e in entries:
        if e.kind in unit_of:
            unit_of[e.kind][e.code] = e.parent
    spans = {}
    for (staff, counter, valid_from), row in existing["assignment"].items():
        spans.setdefault((staff, counter), {})[valid_from] = (row["valid_to"], None)
    for e in (e for e in entries if e.kind == "assignment"):
        if e.parent not in unit_of["counter"]:
            problems.append(_problem(e.line, "parent", N_("counter '%(code)s' is not in the file or the database",
                                                          code=e.parent)))
        elif e.code not in unit_of["staff"]:
            problems.append(_problem(e.line, "code", N_("staff '%(code)s' is not in the file or the database",
                                                        code=e.code)))
        elif unit_of["staff"][e.code] == unit_of["counter"][e.parent]:
            problems.append(_problem(e.line, "code", N_("'%(code)s' is staff of the counter's unit and may serve"
                                                        " there any day", code=e.code)))
        else:
            spans.setdefault((e.code, e.parent), {})[e.valid_from] = (e.valid_to, e)
    for days in spans.values():
        ordered = sorted(days.items())
        for (_, (end, _)), (start, (_, entry)) in zip(ordered, ordered[1:]):
            if entry is not None and (end is None or end >= start):
                problems.append(_problem(entry.line, "valid_from",
                                         N_("overlaps another assignment of this person at this counter")))
    return problems


def _apply(db, changes, existing):
    """Write the changed rows; units parents-first so every parent id exists."""
    now = timestamp()
    unit_ids = {code: row["id"] for code, row in existing["unit"].items()}
    parent_of = {code: row["parent"] for code, row in existing["unit"].items()}
    parent_of.update({e.code: e.parent for e, _ in changes if e.kind == "unit"})

    def depth(code):
        n = 0
        while parent_of.get(code):
            code, n = parent_of[code], n + 1
        return n

    def rank(change):
        entry = change[0]
        return (KINDS.index(entry.kind), depth(entry.code) if entry.kind == "unit" else 0)

    ids = {kind: {code: row["id"] for code, row in existing[kind].items()} for kind in ("counter", "staff")}
    for e, old in sorted(changes, key=rank):
        old_id = old["id"] if old else None
        if e.kind == "assignment":
            if old_id is None:
                rosters.insert_assignment(db, ids["counter"][e.parent], ids["staff"][e.code], e.valid_from,
                                          e.valid_to, now)
            else:
                rosters.set_valid_to(db, old_id, e.valid_to, now)
            continue
        parent_id = unit_ids[e.parent] if e.parent else None
        if e.kind == "unit":
            unit_ids[e.code] = org_storage.save_unit(
                db, old_id, e.code, e.name, parent_id, e.active, now
            )
        elif e.kind == "counter":
            ids["counter"][e.code] = org_storage.save_counter(db, old_id, e.code, e.name, parent_id, e.active, now)
        else:
            ids["staff"][e.code] = staff_storage.save(db, old_id, e.code, e.name, e.title, parent_id, e.active,
                                                      now)

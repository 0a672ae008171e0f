"""Checking each row on its own, without the database: header, kinds, codes, names, days."""

import datetime as dt
import unicodedata

from server.errors import N_
from server.orgimport.model import (
    CODE_RE,
    COLUMNS,
    DAY_COLUMNS,
    FALSE_WORDS,
    KINDS,
    MAX_TEXT,
    TRUE_WORDS,
    Entry,
    ImportRejected,
)


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
            problems.append(problem(line, "code", message))
        else:
            entries.append(entry)
    return entries, problems


def problem(line, column, message):
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
            problems.append(problem(line, column, message))
    kind = row["kind"].lower()
    if not kind:
        problems.append(problem(line, "kind", N_("required (unit, counter, staff or assignment)")))
    elif kind not in KINDS:
        message = N_("'%(value)s' is not one of unit, counter, staff, assignment", value=row["kind"])
        problems.append(problem(line, "kind", message))
        kind = ""
    code = row["code"]
    if not code:
        problems.append(problem(line, "code", N_("required")))
    elif not CODE_RE.match(code):
        problems.append(
            problem(
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
        problems.append(problem(line, "name", N_("required")))
    elif len(name) > MAX_TEXT:
        problems.append(problem(line, "name", _too_long(name)))
    if kind in ("counter", "staff") and not row["parent"]:
        message = N_("required: the code of the unit this %(kind)s belongs to", kind=kind)
        problems.append(problem(line, "parent", message))
    if kind == "assignment" and not row["parent"]:
        problems.append(problem(line, "parent", N_("required: the code of the counter the person is assigned to")))
    if kind in ("unit", "counter", "assignment") and title:
        message = N_("only staff have a title; leave it blank for a %(kind)s", kind=kind)
        problems.append(problem(line, "title", message))
    elif len(title) > MAX_TEXT:
        problems.append(problem(line, "title", _too_long(title)))
    word = row["active"].lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        message = N_("'%(value)s' is not yes/no (also 1/0, true/false, có/không)", value=row["active"])
        problems.append(problem(line, "active", message))
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
        problems = [problem(line, column, N_("only assignment rows have days; leave it blank"))
                    for column, text in texts.items() if text]
        return (None, None), problems
    problems, days = [], {}
    for column, text in texts.items():
        try:
            days[column] = dt.date.fromisoformat(text).isoformat() if text else None
        except ValueError:
            problems.append(problem(line, column, N_("'%(value)s' is not a date like 2026-12-01", value=text)))
            days[column] = None
    if not texts["valid_from"]:
        problems.append(problem(line, "valid_from", N_("required: the first day of the assignment")))
    elif days["valid_from"] and days["valid_to"] and days["valid_to"] < days["valid_from"]:
        problems.append(problem(line, "valid_to", N_("the last day comes before the first")))
    if inactive:
        problems.append(problem(line, "active", N_("an assignment ends on its valid_to day; leave active blank")))
    return (days["valid_from"], days["valid_to"]), problems

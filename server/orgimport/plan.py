"""Checking the rows against the database (parents, rosters), counting, and writing what changed."""

from server.errors import N_
from server.orgimport.model import KINDS, ImportRejected, Summary
from server.orgimport.rows import problem
from server.storage import org as org_storage
from server.storage import rosters
from server.storage import staff as staff_storage
from server.storage import timestamp


def plan_and_apply(db, file_name, entries, problems, apply):
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
            problems.append(problem(e.line, "parent", message))
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
                problems.append(problem(first.line, "parent", message))
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
            problems.append(problem(e.line, "parent", N_("counter '%(code)s' is not in the file or the database",
                                                          code=e.parent)))
        elif e.code not in unit_of["staff"]:
            problems.append(problem(e.line, "code", N_("staff '%(code)s' is not in the file or the database",
                                                        code=e.code)))
        elif unit_of["staff"][e.code] == unit_of["counter"][e.parent]:
            problems.append(problem(e.line, "code", N_("'%(code)s' is staff of the counter's unit and may serve"
                                                        " there any day", code=e.code)))
        else:
            spans.setdefault((e.code, e.parent), {})[e.valid_from] = (e.valid_to, e)
    for days in spans.values():
        ordered = sorted(days.items())
        for (_, (end, _)), (start, (_, entry)) in zip(ordered, ordered[1:]):
            if entry is not None and (end is None or end >= start):
                problems.append(problem(entry.line, "valid_from",
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

"""What an import is made of: the columns, one checked row (``Entry``), the counts, the refusal."""

import dataclasses
import re

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

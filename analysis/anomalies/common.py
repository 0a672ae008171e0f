"""What every test of the scan shares: its parameters, the finding it
returns, and grouping votes by person."""

from dataclasses import asdict, dataclass, field

import numpy as np

KINDS = ("burst", "off_hours", "short_interval", "top_excess", "level_mix", "repeated_ticket", "clock", "absent")
HOURS_OF_WEEK = 168


@dataclass(frozen=True)
class ScanParams:
    """The scan's knobs, all documented in docs/scoring.md."""

    fdr: float = 0.05  # flag when the Benjamini–Hochberg q-value is at most this
    # burst: votes in one clock hour against the person's own rate for that hour of the week
    burst_prior_weeks: float = 2.0  # the unit's typical rate counts as this many weeks of history
    burst_floor_per_hour: float = 0.5  # expected votes per hour never below this (hours with no history)
    burst_cell_p: float = 0.001  # hours whose votes a burst finding lists
    # short_interval: consecutive votes of one person at one counter closer than this
    short_interval_s: float = 30.0
    interval_floor_per_hour: float = 3.0  # the honest rate behind the interval model is at least this
    # top_excess and level_mix: a person against the spread between the unit's staff
    mix_min_votes: int = 20  # fewer votes in the window: top_excess and level_mix are not run
    spread_penalty: float = 3.0  # strength penalty of the colleague-spread fits (see _against_colleagues)
    # allowances for honest causes of the count rules (share of votes)
    off_hours_floor: float = 0.01  # the last citizen served after closing, a clock a minute off
    absent_floor: float = 0.02  # a forgotten sign-in
    repeated_ticket_floor: float = 0.005  # a dossier served twice the same window
    clock_max_offset_s: float = 120.0  # a tablet clock off by more is in trouble
    clock_floor: float = 0.01
    # severity
    high_q: float = 0.001
    medium_q: float = 0.01
    high_votes: int = 10

    def as_dict(self):
        return asdict(self)


@dataclass
class Finding:
    kind: str
    test: str  # the statistical test, in words a reviewer can look up
    statistic: float
    p_value: float
    vote_ids: list
    staff: int = None
    counter: int = None
    device: str = None
    unit: int = None
    severity: str = "low"
    detail: dict = field(default_factory=dict)  # plain numbers for the explanation
    q_value: float = None
    flagged: bool = False

    def as_dict(self):
        return asdict(self)


@dataclass
class Report:
    """Everything one run tested: ``findings`` (all of them, with q-values),
    ``flagged`` (those with q <= fdr, what the scan stores), ``n_tests``."""

    findings: list
    flagged: list
    n_tests: int
    params: ScanParams


def _groups(keys):
    """(unique keys, list of index arrays) for an array of keys, stable."""
    keys = np.asarray(keys)
    if keys.size == 0:
        return [], []
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return list(sorted_keys[np.r_[0, cuts]]), np.split(order, cuts)


def _staff_units(votes):
    """Each staff member's unit in the window (their most frequent one)."""
    units = {}
    for staff, idx in zip(*_groups(votes["staff"])):
        values, counts = np.unique(votes["unit"][idx], return_counts=True)
        units[int(staff)] = int(values[np.argmax(counts)])
    return units


def _finding(kind, test, statistic, p, ids, votes, idx, **extra):
    staff = int(votes["staff"][idx[0]]) if len(idx) else None
    unit = int(votes["unit"][idx[0]]) if len(idx) else None
    return Finding(kind, test, float(statistic), float(min(max(p, 0.0), 1.0)), [int(i) for i in ids],
                   staff=extra.pop("staff", staff), unit=extra.pop("unit", unit), **extra)


def by_staff_map(by_staff):
    return ((int(s), idx) for s, idx in by_staff)

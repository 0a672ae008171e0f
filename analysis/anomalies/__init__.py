"""The anomaly scan: tests that look for gaming in a window of votes.

Every test gives one p-value per subject (a staff member, or a tablet for
clock trouble) and the ids of the votes it concerns. ``run`` performs every
test, then corrects all their p-values together, across staff and tests,
with Benjamini–Hochberg; a finding is flagged when its q-value is at most
``fdr`` (default 0.05): among the flags of a run, at most 5% are expected to
be false alarms on honest staff. docs/scoring.md says what each test means
and does not mean; tests/test_analysis_anomalies.py measures it.

Time cells: ``floor(t / 3600)`` is one local clock hour because the
province's offset from UTC is a whole number of hours (Asia/Ho_Chi_Minh,
+07:00); ``weekday * 24 + local_hour`` is its hour of the week.

Modules: ``common`` (parameters, findings), ``rhythm`` (burst,
short_interval), ``shares`` (top_excess, level_mix, off_hours, absent,
repeated_ticket, clock); this one runs them all and corrects them together.
"""

import numpy as np
from scipy import stats

from analysis.anomalies.common import HOURS_OF_WEEK, KINDS, Finding, Report, ScanParams, _groups, _staff_units
from analysis.anomalies.rhythm import _burst, _expected_hourly, _history_dispersion, _short_interval
from analysis.anomalies.shares import _clock, _level_mix, _repeated_ticket, _share_test, _top_excess

__all__ = ["HOURS_OF_WEEK", "KINDS", "Finding", "Report", "ScanParams", "adjust", "run", "scan", "severity"]


def adjust(findings, fdr=0.05):
    """Benjamini–Hochberg q-values over all findings of a run (in place), and
    ``flagged`` = q <= fdr. Returns the findings."""
    if not findings:
        return findings
    q = stats.false_discovery_control(np.array([f.p_value for f in findings]), method="bh")
    for f, qv in zip(findings, q):
        f.q_value = float(qv)
        f.flagged = bool(qv <= fdr)
    return findings


def severity(finding, params=ScanParams()):
    """high: q <= 0.001 and at least 10 votes concerned; medium: q <= 0.01;
    low otherwise. Clock trouble is technical, always low."""
    if finding.kind == "clock" or finding.q_value is None:
        return "low"
    if finding.q_value <= params.high_q and len(finding.vote_ids) >= params.high_votes:
        return "high"
    if finding.q_value <= params.medium_q:
        return "medium"
    return "low"


def run(votes, baseline=None, params=None):
    """Every test on one window of votes; a ``Report`` (see ``scan``)."""
    params = params or ScanParams()
    votes = {k: np.asarray(v) for k, v in votes.items()}
    for name in ("open", "top", "satisfied", "time_corrected", "rapid_repeat"):
        if name in votes:
            votes[name] = votes[name].astype(bool)
    if votes["id"].size == 0:
        return Report([], [], 0, params)
    staff_units = _staff_units(votes)
    expected = _expected_hourly(votes, baseline, staff_units, params)
    by_staff = list(zip(*_groups(votes["staff"])))
    findings = []
    findings += _burst(votes, expected, params, by_staff, staff_units, _history_dispersion(baseline, staff_units))
    findings += _short_interval(votes, expected, params, by_staff)
    findings += _top_excess(votes, params, by_staff, staff_units)
    findings += _level_mix(votes, params, by_staff, staff_units)
    findings += _share_test("off_hours", "beta-binomial: votes outside the unit's opening hours against the "
                            "spread between the unit's staff", votes, by_staff, ~votes["open"].astype(bool), params.off_hours_floor,
                            "off_hours", staff_units, params)
    present = votes["present"].astype(int)
    findings += _share_test("absent", "beta-binomial: votes while the person's sign-in says nobody was at the "
                            "counter, against the spread between the unit's staff", votes, by_staff, present == 0,
                            params.absent_floor, "absent", staff_units, params, eligible=present >= 0)
    findings += _repeated_ticket(votes, params, by_staff, staff_units)
    findings += _clock(votes, params)
    adjust(findings, params.fdr)
    for f in findings:
        f.severity = severity(f, params)
    flagged = sorted((f for f in findings if f.flagged), key=lambda f: f.q_value)
    return Report(findings, flagged, len(findings), params)


def scan(votes, baseline=None, params=None):
    """The flagged findings of one window (q <= fdr), most certain first.

    ``votes``: dict of equal-length arrays sorted by ``t`` (see the contract
    in docs/scoring.md), optionally ``rapid_repeat`` (bool): taps the kiosk
    already marked are left out of the interval test. ``baseline``:
    ``{"hourly": {staff: (counts[168], weeks_observed)}}``. For the number of
    tests performed (``scans.n_tests``) and the unflagged findings, call
    ``run``.
    """
    return run(votes, baseline, params).flagged

"""The nightly anomaly scan: a window of votes → ``analysis.anomalies`` → flags HR reviews.

``scan_days`` reads one window of local days (``TIMEZONE``): the votes, as
the arrays the analysis contract names (docs/scoring.md), the sign-in events
around them (was the person signed in at that counter?), the opening hours,
and each person's own votes per hour of the week over the
``SCAN_BASELINE_WEEKS`` before. Every test runs and is corrected together
(Benjamini–Hochberg); each finding at or under ``SCAN_FDR_PERCENT`` becomes a
flag with its votes. Votes the kiosk marked ``rapid_repeat`` become one flag
per staff member and day. All of it – the ``scans`` row, new flags, their
votes, the ``(day, staff)`` pairs whose standing changes (``rollup_dirty``),
one audit entry – is written in one short transaction after the reading and
the arithmetic.

A flag's ``key`` names what was found (kind, subject, window), so running
the same window again finds the flags it raised instead of making new ones;
an open flag gains votes that arrived since, a reviewed one is left as it
was reviewed.
"""

import bisect
import collections
import datetime as dt
import math
import types
import zoneinfo

import numpy as np

from analysis import anomalies
from server import audit, calendar
from server.scoring.days import day_bounds_utc, fixed_offset_minutes, local_day
from server.storage import flags as flag_storage
from server.storage import rollups as rollup_storage
from server.storage import scan as storage
from server.storage import timestamp, write_transaction
from server.version import __version__

JOB_ACTOR = types.SimpleNamespace(kind="job", name="scan", address=None)
# After a pause the nightly step catches up on at most this many days, one window each.
CATCH_UP_DAYS = 7
RAPID_REPEAT = "rapid_repeat"
RAPID_REPEAT_TEST = "kiosk mark: a tap sooner than the kiosk's minimum interval after the one before"


def params_from_settings(settings):
    return anomalies.ScanParams(fdr=settings["SCAN_FDR_PERCENT"] / 100)


# --- Reading the window -------------------------------------------------------


def _epoch(texts):
    """Epoch seconds (float) of stored UTC texts (``…Z``)."""
    if not len(texts):
        return np.zeros(0)
    stamps = np.array([text.rstrip("Z") for text in texts], dtype="datetime64[ms]")
    return stamps.astype("int64") / 1000.0


def _local_parts(t, timezone):
    """``(local hour, weekday (0 Monday))`` arrays of epoch seconds in ``timezone``."""
    offset = fixed_offset_minutes(timezone)
    if offset is not None:
        local = t + offset * 60
        return (np.floor(local % 86400 / 3600).astype(int),
                ((np.floor(local / 86400).astype(np.int64) + 3) % 7).astype(int))  # 1970-01-01: a Thursday
    zone = zoneinfo.ZoneInfo(timezone)
    moments = [dt.datetime.fromtimestamp(x, zone) for x in t]
    return np.array([m.hour for m in moments], dtype=int), np.array([m.weekday() for m in moments], dtype=int)


def _levels(scales):
    """``{(version, rating): (rank, satisfied, top, n_levels)}`` from each version's own levels."""
    out = {}
    for version, levels in scales.items():
        ordered = sorted(levels, key=lambda level: level["value"])
        for rank, level in enumerate(ordered):
            satisfied = bool(level.get("satisfied", not level.get("negative", False)))
            out[(int(version), int(level["value"]))] = (rank, satisfied, rank == len(ordered) - 1, len(ordered))
    return out


def _ingest_flags(text):
    return {part.strip(' "[]') for part in (text or "").split(",") if part.strip(' "[]')}


def _open_mask(db, units, t, timezone):
    """Whether each vote's unit was open at its moment: its opening hours, and not a public holiday."""
    return np.asarray(calendar.open_mask(db, units, t, timezone), dtype=bool)


def _presence(db, rows, start, end, timezone):
    """Per vote: 1 signed in at its counter then, 0 not, -1 no sign-in event of that person that local day.

    Compared on the tablet's own clock (the vote's ``local_time`` and the
    events'), so a clock correction on one does not shift it against the other.
    """
    day = dt.timedelta(days=1)
    parse = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    margin_start = timestamp(parse(start) - day)
    margin_end = timestamp(parse(end) + day)
    events = storage.sign_in_events(db, margin_start, margin_end)
    days_with_events = set()
    at_counter = collections.defaultdict(lambda: ([], []))
    for staff_id, counter_id, at, event in events:
        if event not in ("sign_in", "sign_out"):
            continue  # a PIN lockout signs nobody in or out (docs/kiosk.md)
        days_with_events.add((staff_id, local_day(at, timezone)))
        times, kinds = at_counter[(staff_id, counter_id, local_day(at, timezone))]
        times.append(parse(at).timestamp())
        kinds.append(event)
    present = np.full(len(rows), -1, dtype=np.int8)
    for i, row in enumerate(rows):
        staff_id, counter_id, local_time = row[3], row[4], row[2]
        moment = parse(local_time)
        vote_day = moment.astimezone(zoneinfo.ZoneInfo(timezone)).date().isoformat()
        if (staff_id, vote_day) not in days_with_events:
            continue
        times, kinds = at_counter.get((staff_id, counter_id, vote_day), ([], []))
        last = bisect.bisect_right(times, moment.timestamp()) - 1
        present[i] = 1 if last >= 0 and kinds[last] == "sign_in" else 0
    return present


def _baseline(db, start, weeks, timezone):
    """``{"hourly": {staff: (counts[168], weeks observed)}}`` over the ``weeks`` before ``start`` (UTC text)."""
    first = dt.datetime.fromisoformat(start.replace("Z", "+00:00")) - dt.timedelta(weeks=weeks)
    since = timestamp(first)
    counts = collections.defaultdict(lambda: np.zeros(anomalies.HOURS_OF_WEEK))
    earliest = {}
    offset = fixed_offset_minutes(timezone)
    if offset is not None:
        for staff_id, weekday, hour, n, first_at in storage.hourly_counts(db, since, start, offset):
            counts[staff_id][weekday * 24 + hour] += n
            earliest[staff_id] = min(earliest.get(staff_id, first_at), first_at)
    else:
        zone = zoneinfo.ZoneInfo(timezone)
        for staff_id, counted_at in storage.vote_times(db, since, start):
            moment = dt.datetime.fromisoformat(counted_at.replace("Z", "+00:00")).astimezone(zone)
            counts[staff_id][moment.weekday() * 24 + moment.hour] += 1
            earliest[staff_id] = min(earliest.get(staff_id, counted_at), counted_at)
    end = _epoch([start])[0]
    hourly = {}
    for staff_id, row in counts.items():
        # Weeks since the person's first vote in the baseline (a newcomer has less history).
        observed = (end - max(_epoch([since])[0], _epoch([earliest[staff_id]])[0])) / (7 * 86400)
        if observed > 0:
            hourly[int(staff_id)] = (row, float(observed))
    return {"hourly": hourly}


def build_input(db, settings, day_from, day_to):
    """``(votes arrays, baseline, rows)`` of the local days ``day_from..day_to``."""
    from server.scoring.scores import scales as stored_scales

    timezone = settings["TIMEZONE"]
    start, end = day_bounds_utc(day_from, day_to, timezone)
    rows = storage.votes_between(db, start, end)
    levels = _levels(stored_scales(db))
    t = _epoch([row[1] for row in rows])
    hour, weekday = _local_parts(t, timezone)
    graded = [levels.get((row[8], row[7]), (0, False, False, 1)) for row in rows]
    units = np.array([row[5] for row in rows], dtype=np.int64)
    open_mask = _open_mask(db, units, t, timezone)
    votes = {
        "id": np.array([row[0] for row in rows], dtype=np.int64),
        "t": t,
        "local_hour": hour,
        "weekday": weekday,
        "staff": np.array([row[3] for row in rows], dtype=np.int64),
        "counter": np.array([row[4] for row in rows], dtype=np.int64),
        "unit": units,
        "device": np.array([row[6] for row in rows], dtype=str),
        "satisfied": np.array([g[1] for g in graded], dtype=bool),
        "top": np.array([g[2] for g in graded], dtype=bool),
        "level": np.array([g[0] for g in graded], dtype=int),
        "n_levels": np.array([g[3] for g in graded], dtype=int),
        "ticket": np.array([row[9] for row in rows], dtype=str),
        "open": open_mask,
        "present": _presence(db, rows, start, end, timezone),
        "clock_offset_ms": np.array([np.nan if row[10] is None else float(row[10]) for row in rows]),
        "time_corrected": np.array([bool(row[11]) for row in rows], dtype=bool),
        "rapid_repeat": np.array([RAPID_REPEAT in _ingest_flags(row[12]) for row in rows], dtype=bool),
    }
    return votes, _baseline(db, start, settings["SCAN_BASELINE_WEEKS"], timezone), rows


# --- From findings to flags ---------------------------------------------------


def _plain(value):
    """JSON-safe: NumPy numbers as Python ones, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def _subject(finding):
    if finding.staff is not None:
        return f"staff:{int(finding.staff)}"
    if finding.device is not None:
        return f"device:{finding.device}"
    return f"counter:{finding.counter}"


def _finding_flags(findings, by_id, day_from, day_to, scan_id, now):
    """``[(flag row, vote ids)]`` of the flagged findings of a window."""
    out = []
    for f in findings:
        ids = [int(v) for v in f.vote_ids if int(v) in by_id]
        times = sorted(by_id[v][0] for v in ids)
        out.append(({
            "key": f"{f.kind}|{_subject(f)}|{day_from}..{day_to}", "kind": f.kind, "severity": f.severity,
            "staff_id": None if f.staff is None else int(f.staff), "unit_id": None if f.unit is None else int(f.unit),
            "counter_id": None if f.counter is None else int(f.counter), "device_id": f.device,
            "first_at": times[0] if times else None, "last_at": times[-1] if times else None, "test": f.test,
            "statistic": _plain(f.statistic), "p_value": _plain(f.p_value), "q_value": _plain(f.q_value),
            "n_votes": len(ids), "detail": _plain(f.detail), "scan_id": scan_id, "created_at": now,
        }, ids))
    return out


def _rapid_repeat_flags(rows, votes, timezone, scan_id, now):
    """One flag per staff member and local day of the votes the kiosk marked ``rapid_repeat``."""
    groups = collections.defaultdict(list)
    for row, marked in zip(rows, votes["rapid_repeat"]):
        if marked:
            groups[(row[3], local_day(row[1], timezone))].append(row)
    out = []
    for (staff_id, day), marked in sorted(groups.items()):
        units = collections.Counter(row[5] for row in marked)
        counters = {row[4] for row in marked}
        devices = {row[6] for row in marked}
        out.append(({
            "key": f"{RAPID_REPEAT}|staff:{staff_id}|{day}", "kind": RAPID_REPEAT, "severity": "low",
            "staff_id": staff_id, "unit_id": units.most_common(1)[0][0],
            "counter_id": counters.pop() if len(counters) == 1 else None,
            "device_id": devices.pop() if len(devices) == 1 else None,
            "first_at": marked[0][1], "last_at": marked[-1][1], "test": RAPID_REPEAT_TEST,
            "statistic": float(len(marked)), "p_value": None, "q_value": None, "n_votes": len(marked),
            "detail": {"taps": len(marked), "day": day}, "scan_id": scan_id, "created_at": now,
        }, [row[0] for row in marked]))
    return out


def scan_days(db, settings, day_from, day_to, now=None, actor=None):
    """Scan the local days ``day_from..day_to`` (``YYYY-MM-DD``) as one window; store what it finds.

    Returns ``{"scan_id", "days", "votes", "n_tests", "flags", "new_flags",
    "rapid_repeat"}``: flags of this window (found again or new), those new,
    and those of the ``rapid_repeat`` mark.
    """
    if day_to < day_from:
        raise ValueError(f"the window ends ({day_to}) before it starts ({day_from})")
    now = now or dt.datetime.now(dt.timezone.utc)
    actor = actor or JOB_ACTOR
    timezone = settings["TIMEZONE"]
    started = timestamp(now)
    params = params_from_settings(settings)
    votes, baseline, rows = build_input(db, settings, day_from, day_to)
    report = anomalies.run(votes, baseline, params)
    by_id = {row[0]: (row[1], row[3]) for row in rows}
    parameters = {**_plain(params.as_dict()), "baseline_weeks": settings["SCAN_BASELINE_WEEKS"],
                  "timezone": timezone}
    with write_transaction(db):
        scan_id = flag_storage.start_scan(db, started, day_from, day_to, __version__, parameters)
        found = _finding_flags(report.flagged, by_id, day_from, day_to, scan_id, started)
        marked = _rapid_repeat_flags(rows, votes, timezone, scan_id, started)
        new, dirty = 0, set()
        for flag, ids in found + marked:
            flag_id, created = flag_storage.insert_flag(db, flag)
            if created or flag_storage.flag_by_id(db, flag_id)["status"] == "open":
                added = flag_storage.add_flag_votes(db, flag_id, ids)
                if added or created:
                    dirty |= {(local_day(by_id[v][0], timezone), by_id[v][1]) for v in ids}
                    flag_storage.refresh_vote_count(db, flag_id)
            new += created
        rollup_storage.mark_dirty(db, sorted(dirty))
        flag_storage.finish_scan(db, scan_id, timestamp(), report.n_tests, len(found) + len(marked))
        summary = {"scan_id": scan_id, "days": [day_from, day_to], "votes": len(rows), "n_tests": report.n_tests,
                   "flags": len(found) + len(marked), "new_flags": new, "rapid_repeat": len(marked)}
        audit.record(db, actor, "scan", "scan", scan_id, after=summary)
    return summary


def nightly(db, settings, now):
    """The job step: scan each local day since the last scanned one up to yesterday (at most a week), one
    window a day. Returns the summaries."""
    timezone = settings["TIMEZONE"]
    yesterday = (now.astimezone(zoneinfo.ZoneInfo(timezone)).date() - dt.timedelta(days=1))
    last = storage.last_scanned_day(db)
    first = yesterday - dt.timedelta(days=CATCH_UP_DAYS - 1)
    if last is not None:
        first = max(first, dt.date.fromisoformat(last) + dt.timedelta(days=1))
    else:
        first = yesterday
    done = []
    day = first
    while day <= yesterday:
        done.append(scan_days(db, settings, day.isoformat(), day.isoformat(), now))
        day += dt.timedelta(days=1)
    return done

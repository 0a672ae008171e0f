"""Simulated one-stop centres for the anomaly scan's tests: honest counters, and self-voters.

Honest traffic (per unit of ``staff_per_unit`` people, each at their own counter and tablet):
- opening hours Mon–Fri 07:00–11:30 and 13:00–17:00 local time (UTC+7); day 0 is a Monday;
- citizens arrive at random (Poisson) at a person's own rate (2 to 8 an hour), busier 08:00–10:00,
  times a demand factor per unit and day (Gamma, CV 0.3) and per person and day (CV 0.2);
- one queue per counter: service takes a log-normal time (median 4 min, at least 1 min) and a citizen
  who arrived before closing is still served, so some votes fall after closing, as in real life;
- 60% of citizens vote, 5 to 40 s after their service ends; 1% of votes bring a companion's vote
  5 to 40 s later; 0.5% are double taps 1 to 3 s later, which the kiosk marks ``rapid_repeat``;
- levels 0..3 (3 = top) from the person's own mix, drawn around the unit's (Dirichlet, strength 60);
  70% of votes carry a ticket, 0.2% of those a ticket the same person served before;
- sign-in covers the opening hours give or take 10 minutes; 10% of days have no sign-in data;
- clocks are off by about 2 s; one tablet in 50 is 10 minutes off (corrected times): a true
  ``clock`` finding, not an honest one.

A self-voter (``cheaters``) adds ``extra_per_day`` top votes every working day at their own counter,
in bursts of 3 to 6 taps 4 to 25 s apart; each burst starts at a random moment, 60% during opening
hours and 40% at odd moments (the lunch break, or up to 30 minutes after closing).
"""

import numpy as np

TZ = 7 * 3600
OPEN = ((7.0, 11.5), (13.0, 17.0))
DAY = 86400
EPOCH = 20_454 * DAY  # 2026-01-01 UTC midnight; only whole hours matter to the scan


def _queue_day(rng, day, rate, factor):
    """Vote times (local seconds since day 0) of one honest counter for one day."""
    times = []
    for start, end in OPEN:
        hours = end - start
        profile_peak = 1.3 if start < 12 else 0.9
        n = rng.poisson(rate * factor * profile_peak * hours)
        times.append(np.sort(rng.uniform(start, end, n)) * 3600)
    arrivals = np.concatenate(times)
    if arrivals.size == 0:
        return arrivals
    service = np.maximum(60.0, rng.lognormal(np.log(240), 0.5, arrivals.size))
    # Lindley: departure_i = max(arrival_i, departure_{i-1}) + service_i, vectorised.
    c = np.cumsum(service)
    departures = c + np.maximum.accumulate(arrivals - np.r_[0.0, c[:-1]])
    voted = rng.random(arrivals.size) < 0.6
    votes = departures[voted] + rng.uniform(5, 40, voted.sum())
    companion = votes[rng.random(votes.size) < 0.01] + rng.uniform(5, 40)
    return day * DAY + np.concatenate([votes, companion])


def _is_open(local_seconds):
    hour = (local_seconds % DAY) / 3600
    weekday = (local_seconds // DAY).astype(int) % 7
    inside = np.zeros(hour.shape, dtype=bool)
    for start, end in OPEN:
        inside |= (hour >= start) & (hour < end)
    return inside & (weekday < 5)


def _cheat_day(rng, day, extra):
    times = []
    left = extra
    while left > 0:
        size = min(left, int(rng.integers(3, 7)))
        left -= size
        if rng.random() < 0.6:
            start, end = OPEN[int(rng.integers(0, 2))]
            begin = rng.uniform(start, end) * 3600
        elif rng.random() < 0.5:
            begin = rng.uniform(11.5, 13.0) * 3600
        else:
            begin = rng.uniform(17.0, 17.5) * 3600
        times.append(begin + np.cumsum(np.r_[0.0, rng.uniform(4, 25, size - 1)]))
    return day * DAY + np.concatenate(times)


def simulate(seed, units=6, staff_per_unit=10, baseline_weeks=8, window_days=30, cheaters=(), extra_per_day=10,
             with_squares=True):
    """(votes for the scan window, baseline, set of bad devices): a month of votes after
    ``baseline_weeks`` weeks of history. ``cheaters``: staff ids (0-based) that self-vote.
    The baseline carries each person's sum of squared weekly counts unless ``with_squares`` is False."""
    rng = np.random.default_rng(seed)
    first_window_day = baseline_weeks * 7
    days = first_window_day + window_days
    columns = {k: [] for k in ("t", "staff", "unit", "level", "ticket", "rapid_repeat", "device_bad")}
    hourly = {}
    staff_id = 0
    bad_devices = set()
    for unit in range(units):
        unit_mix = rng.dirichlet([2, 6, 32, 60])
        unit_demand = rng.gamma(11.0, 1 / 11.0, days)
        for _ in range(staff_per_unit):
            rate = rng.uniform(2, 8)
            mix = rng.dirichlet(60 * unit_mix)
            bad_clock = rng.random() < 0.02
            if bad_clock:
                bad_devices.add(f"dev-{staff_id}")
            local = []
            for day in range(days):
                if day % 7 >= 5:
                    continue
                local.append(_queue_day(rng, day, rate, unit_demand[day] * rng.gamma(25.0, 1 / 25.0)))
            local = np.sort(np.concatenate(local))
            taps = local[rng.random(local.size) < 0.005] + rng.uniform(1, 3)
            how = ((local // DAY).astype(int) % 7) * 24 + ((local % DAY) // 3600).astype(int)
            history = local < first_window_day * DAY
            week = (local[history] // (7 * DAY)).astype(int)
            weekly = np.zeros((baseline_weeks, 168))
            np.add.at(weekly, (week, how[history]), 1)
            hourly[staff_id] = (weekly.sum(axis=0), float(baseline_weeks),
                                (weekly ** 2).sum(axis=0) if with_squares else None)
            window = local[~history]
            taps = taps[taps >= first_window_day * DAY]
            honest = np.concatenate([window, taps])
            levels = rng.choice(4, honest.size, p=mix)
            repeat = np.r_[np.zeros(window.size, dtype=bool), np.ones(taps.size, dtype=bool)]
            tickets = np.array([f"{staff_id}-{i}" if rng.random() < 0.7 else "" for i in range(honest.size)])
            reuse = (tickets != "") & (rng.random(honest.size) < 0.002)
            for i in np.flatnonzero(reuse):
                earlier = tickets[:i][tickets[:i] != ""]
                if earlier.size:
                    tickets[i] = earlier[-1]
            if staff_id in cheaters:
                extra = np.concatenate([_cheat_day(rng, day, extra_per_day)
                                        for day in range(first_window_day, days) if day % 7 < 5])
                honest = np.concatenate([honest, extra])
                levels = np.r_[levels, np.full(extra.size, 3)]
                repeat = np.r_[repeat, np.zeros(extra.size, dtype=bool)]
                tickets = np.r_[tickets, np.full(extra.size, "")]
            columns["t"].append(honest)
            columns["staff"].append(np.full(honest.size, staff_id))
            columns["unit"].append(np.full(honest.size, unit))
            columns["level"].append(levels)
            columns["ticket"].append(tickets)
            columns["rapid_repeat"].append(repeat)
            columns["device_bad"].append(np.full(honest.size, bad_clock))
            staff_id += 1
    local = np.concatenate(columns["t"])
    order = np.argsort(local, kind="stable")
    local = local[order]
    staff = np.concatenate(columns["staff"])[order]
    level = np.concatenate(columns["level"])[order]
    bad = np.concatenate(columns["device_bad"])[order]
    hour = (local % DAY) / 3600
    signed_in = np.zeros(local.size, dtype=bool)
    slack = rng.uniform(-600, 600, (staff.max() + 1, days, 4))
    day = (local // DAY).astype(int)
    for k, (start, end) in enumerate(OPEN):
        s = start * 3600 + slack[staff, day, 2 * k]
        e = end * 3600 + slack[staff, day, 2 * k + 1]
        signed_in |= (hour * 3600 >= s) & (hour * 3600 < e)
    no_data = rng.random((staff.max() + 1, days))[staff, day] < 0.1
    present = np.where(no_data, -1, signed_in.astype(np.int8)).astype(np.int8)
    offset = np.where(bad, 600_000.0, rng.normal(0, 2000, local.size))
    votes = {
        "id": np.arange(1, local.size + 1, dtype=np.int64),
        "t": local - TZ + EPOCH,
        "local_hour": (hour // 1).astype(int),
        "weekday": day % 7,
        "staff": staff.astype(np.int64),
        "counter": staff.astype(np.int64) + 1000,
        "unit": np.concatenate(columns["unit"])[order].astype(np.int64),
        "device": np.array([f"dev-{s}" for s in staff]),
        "satisfied": level >= 2,
        "top": level == 3,
        "level": level,
        "n_levels": np.full(local.size, 4),
        "ticket": np.concatenate(columns["ticket"])[order],
        "open": _is_open(local),
        "present": present,
        "clock_offset_ms": offset,
        "time_corrected": bad,
        "rapid_repeat": np.concatenate(columns["rapid_repeat"])[order],
    }
    return votes, {"hourly": hourly}, bad_devices

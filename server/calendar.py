"""When units are open: weekly hours per unit (several ranges a day) and public holidays.

A unit without hours of its own has its nearest ancestor's; when no ancestor
has any, the organisation's default (the ``opening_hours`` rows with
``unit_id`` NULL). On a public holiday every unit is closed. Times are local
(``TIMEZONE``); a range includes its opening minute and excludes its closing
one (07:00–11:30 is open at 11:29:59, closed at 11:30).

``load(db, timezone)`` reads everything once into a ``Calendar``; its
methods are pure and answer many questions fast (the silent-tablet job, the
device pages, the anomaly scan's per-vote ``open`` via ``open_mask``).

Hours are written as text, e.g. ``"Mon-Fri 07:00-11:30,13:00-17:00; Sat
07:00-11:30"``: groups separated by ``;``, each days (``Mon``, ``Mon-Fri``,
``Mon,Wed``) then ranges separated by ``,``; ``24:00`` closes at midnight.
"""

import datetime as dt
import re
import zoneinfo

from server.errors import N_
from server.storage import calendar as storage

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


def parse_hours(spec):
    """``{weekday: [("HH:MM", "HH:MM"), ...]}`` (0 = Monday) from text like ``"Mon-Fri 07:00-11:30,13:00-17:00"``.

    Raises ``ValueError`` whose message (an ``N_`` message the pages translate) says what is wrong and where.
    """
    week = {}
    groups = [group.strip() for group in (spec or "").split(";") if group.strip()]
    if not groups:
        raise ValueError(N_("Give days and times, like 'Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30'."))
    for group in groups:
        parts = group.split(None, 1)
        if len(parts) != 2:
            raise ValueError(N_("'%(group)s' needs days then times, like 'Mon-Fri 07:00-11:30,13:00-17:00'.", group=group))
        days = _days(parts[0])
        ranges = [_range(text.strip(), group) for text in parts[1].split(",") if text.strip()]
        for day in days:
            if day in week:
                raise ValueError(N_("%(day)s is given twice; put all its times in one group.", day=DAYS[day]))
            week[day] = sorted(ranges)
    for day, ranges in week.items():
        for (_, closes), (opens, _) in zip(ranges, ranges[1:]):
            if opens < closes:
                raise ValueError(N_("The times of %(day)s overlap (%(closes)s is after %(opens)s).", day=DAYS[day], closes=closes,
                                    opens=opens))
    return dict(sorted(week.items()))


def _days(text):
    days = []
    for part in text.split(","):
        ends = part.split("-")
        try:
            indexes = [[d.lower() for d in DAYS].index(end.strip().lower()) for end in ends]
        except ValueError:
            raise ValueError(N_("'%(part)s' is not a day or days like Mon, Mon-Fri or Mon,Wed (days: %(days)s).",
                                part=part, days=", ".join(DAYS))) from None
        if len(indexes) == 1:
            days.append(indexes[0])
        elif len(indexes) == 2 and indexes[0] <= indexes[1]:
            days.extend(range(indexes[0], indexes[1] + 1))
        else:
            raise ValueError(N_("'%(part)s' is not a range of days from Monday towards Sunday, like Mon-Fri.", part=part))
    return days


def _range(text, group):
    match = _RANGE.fullmatch(text)
    if not match:
        raise ValueError(N_("'%(text)s' in '%(group)s' is not a time range like 07:00-11:30.", text=text, group=group))
    h1, m1, h2, m2 = (int(x) for x in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(N_("'%(text)s' has a time that does not exist.", text=text))
    opens, closes = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
    if opens >= closes:
        raise ValueError(N_("'%(text)s' must open before it closes (no overnight ranges).", text=text))
    return opens, closes


def format_hours(week):
    """The text form of ``{weekday: [(opens, closes)]}``: days with the same times grouped (Mon-Fri ...)."""
    groups, previous = [], None
    for day in range(7):
        ranges = tuple(week.get(day) or ())
        if ranges and previous and previous[1] == ranges and previous[0][-1] == day - 1:
            previous[0].append(day)
            continue
        previous = ([day], ranges) if ranges else None
        if previous:
            groups.append(previous)
    parts = []
    for days, ranges in groups:
        names = DAYS[days[0]] if len(days) == 1 else f"{DAYS[days[0]]}-{DAYS[days[-1]]}"
        parts.append(f"{names} {','.join(f'{o}-{c}' for o, c in ranges)}")
    return "; ".join(parts)


def _minutes(text):
    return int(text[:2]) * 60 + int(text[3:])


class Calendar:
    """Everything needed to say whether a unit is open: hours, unit tree, holidays and time zone."""

    def __init__(self, hours, parents, holidays, timezone):
        """``hours``: rows ``(unit_id or None, weekday, opens, closes)``; ``parents``: ``{unit_id:
        parent_id}``; ``holidays``: local dates ``YYYY-MM-DD``; ``timezone``: a zone name."""
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.parents = dict(parents)
        self.holidays = set(holidays)
        self.own = {}
        for unit_id, weekday, opens, closes in hours:
            self.own.setdefault(unit_id, {}).setdefault(weekday, []).append((_minutes(opens), _minutes(closes)))
        for week in self.own.values():
            for ranges in week.values():
                ranges.sort()
        self._source = {}

    def source(self, unit_id):
        """The unit whose hours apply to ``unit_id`` (itself or its nearest ancestor with hours), or None:
        the organisation's default."""
        if unit_id not in self._source:
            found, seen, current = None, set(), unit_id
            while current is not None and current not in seen:
                if current in self.own:
                    found = current
                    break
                seen.add(current)
                current = self.parents.get(current)
            self._source[unit_id] = found
        return self._source[unit_id]

    def week(self, unit_id):
        """``{weekday: [(open_minute, close_minute)]}`` that applies to ``unit_id`` (None: the default)."""
        return self.own.get(self.source(unit_id) if unit_id is not None else None, {})

    def ranges(self, unit_id, day):
        """Open ranges (minutes after local midnight) of a local date; none on a public holiday."""
        if day.isoformat() in self.holidays:
            return []
        return self.week(unit_id).get(day.weekday(), [])

    def local(self, moment):
        """A moment (aware datetime, epoch seconds, or stored UTC text) as local time."""
        if isinstance(moment, str):
            moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        elif not isinstance(moment, dt.datetime):
            return dt.datetime.fromtimestamp(float(moment), self.zone)
        return moment.astimezone(self.zone)

    def is_open(self, unit_id, moment):
        """Whether ``unit_id`` (None: the organisation's default hours) is open at ``moment``."""
        local = self.local(moment)
        minute = local.hour * 60 + local.minute
        return any(opens <= minute < closes for opens, closes in self.ranges(unit_id, local.date()))

    def open_minutes(self, unit_id, day):
        """Minutes ``unit_id`` is open on a local date (0 on holidays and closed days)."""
        return sum(closes - opens for opens, closes in self.ranges(unit_id, day))

    def open_mask(self, unit_ids, moments):
        """A NumPy bool array: for each pair, whether the unit is open at the moment (see ``is_open``).

        Vectorised for the anomaly scan's millions of votes: the zone's
        offset is looked up once per UTC hour, the ranges once per (unit,
        local day), then every vote is compared at once (about 0.5 µs a vote
        instead of 9 µs through ``is_open``).
        """
        import numpy as np

        seconds = np.array([self._epoch(moment) for moment in moments], dtype=np.float64) \
            if not isinstance(moments, np.ndarray) or moments.dtype.kind not in "fiu" \
            else moments.astype(np.float64)
        units = np.array([-1 if unit is None else int(unit) for unit in unit_ids], dtype=np.int64) \
            if not isinstance(unit_ids, np.ndarray) else unit_ids.astype(np.int64)
        if len(seconds) == 0:
            return np.zeros(0, dtype=bool)
        hours, hour_index = np.unique(np.floor(seconds / 3600).astype(np.int64), return_inverse=True)
        offsets = np.array([self._offset(hour * 3600) for hour in hours], dtype=np.int64)
        local = np.floor(seconds).astype(np.int64) + offsets[hour_index]
        days, minutes = np.divmod(local, 86400)
        minutes //= 60
        span = 1 << 24  # days since 1970 fit far below it
        keys, pair_index = np.unique((units + 1) * span + (days + span // 2), return_inverse=True)
        pair_index = pair_index.reshape(-1)
        epoch = dt.date(1970, 1, 1)
        ranges = [self.ranges(None if key // span == 0 else int(key // span - 1),
                              epoch + dt.timedelta(days=int(key % span - span // 2))) for key in keys]
        width = max(1, max(len(r) for r in ranges))
        opens = np.full((len(ranges), width), 1, dtype=np.int64)
        closes = np.zeros((len(ranges), width), dtype=np.int64)  # padding: an empty range [1, 0)
        for row, day_ranges in enumerate(ranges):
            for column, (start, end) in enumerate(day_ranges):
                opens[row, column], closes[row, column] = start, end
        minute = minutes[:, None]
        return ((minute >= opens[pair_index]) & (minute < closes[pair_index])).any(axis=1)

    def _epoch(self, moment):
        if isinstance(moment, (int, float)):
            return float(moment)
        return self.local(moment).timestamp()

    def _offset(self, epoch_seconds):
        """The zone's UTC offset (seconds) at a moment."""
        return int(dt.datetime.fromtimestamp(epoch_seconds, self.zone).utcoffset().total_seconds())


def load(db, timezone):
    """The calendar as stored: every unit's hours, the unit tree and the holidays."""
    return Calendar(storage.all_hours(db), storage.unit_parents(db), storage.holiday_days(db), timezone)


def open_mask(db_or_calendar, unit_ids, moments, timezone="Asia/Ho_Chi_Minh"):
    """For the anomaly scan: whether each vote's unit was open at its moment (a NumPy bool array).

    ``db_or_calendar``: a database (read once here, in ``timezone``) or a
    loaded ``Calendar``; ``unit_ids`` and ``moments`` are equal-length
    sequences (NumPy arrays work): unit ids, and epoch seconds, aware
    datetimes or stored UTC text.
    """
    calendar = db_or_calendar if isinstance(db_or_calendar, Calendar) else load(db_or_calendar, timezone)
    return calendar.open_mask(unit_ids, moments)

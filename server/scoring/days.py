"""Local days: a vote belongs to the local date of its ``counted_at`` in ``TIMEZONE``.

When the zone has had one UTC offset for every moment a vote can carry
(checked, not assumed: ``fixed_offset_minutes``; Asia/Ho_Chi_Minh is UTC+7
since 1975), SQLite computes the day as ``date(counted_at, '+420 minutes')``;
a zone with daylight saving time or a change of offset is handled row by row
in Python with ``zoneinfo``, slower but right.
"""

import datetime as dt
import functools
import zoneinfo

from device_client.protocol import format_utc

# Votes carry times from 2000 on (the protocol refuses a vote before its
# tablet's enrollment); the check reaches well past any tablet's lifetime.
CHECK_FROM_YEAR, CHECK_TO_YEAR = 2000, 2100


@functools.lru_cache(maxsize=16)
def fixed_offset_minutes(timezone):
    """The zone's UTC offset in minutes if it is the same at every moment from 2000 to 2100, else None.

    Sampled twice a month (a daylight-saving zone differs between January
    and July; any change of offset lasts longer than two weeks).
    """
    zone = zoneinfo.ZoneInfo(timezone)
    offsets = set()
    for year in range(CHECK_FROM_YEAR, CHECK_TO_YEAR + 1):
        for month in range(1, 13):
            for day in (1, 16):
                moment = dt.datetime(year, month, day, 12, tzinfo=dt.timezone.utc).astimezone(zone)
                offsets.add(moment.utcoffset())
                if len(offsets) > 1:
                    return None
    (offset,) = offsets
    return int(offset.total_seconds() // 60)


def local_day(counted_at, timezone):
    """The local date (``YYYY-MM-DD``) in ``timezone`` of a stored UTC time text."""
    moment = dt.datetime.fromisoformat(counted_at.replace("Z", "+00:00"))
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).date().isoformat()


# The bounds of days at the calendar's edges, written out: format_utc writes year 1 as "1-01-01", which
# sorts after "2026-..." as text.
EARLIEST_UTC, LATEST_UTC = "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"


def day_bounds_utc(first_day, last_day, timezone):
    """The UTC time texts ``[start, end)`` of local days ``first_day..last_day`` in ``timezone``.

    A bound a datetime cannot hold (the midnight that starts 0001-01-01
    east of UTC, the one after 9999-12-31) or one before the year 1000 (its
    text would sort after every real time) is the earliest or the latest time
    instead: a filter "to 9999-12-31" was a 500 (OverflowError), and no
    stored time (from 2000 on) lies between.
    """
    zone = zoneinfo.ZoneInfo(timezone)
    first, last = dt.date.fromisoformat(first_day), dt.date.fromisoformat(last_day)
    return _midnight_utc(first, zone), _midnight_utc(last, zone, days_after=1)


def _midnight_utc(day, zone, days_after=0):
    try:
        moment = dt.datetime.combine(day + dt.timedelta(days=days_after), dt.time(), zone)
        moment = moment.astimezone(dt.timezone.utc)
    except OverflowError:
        return EARLIEST_UTC if day.year == 1 else LATEST_UTC
    return EARLIEST_UTC if moment.year < 1000 else format_utc(moment)



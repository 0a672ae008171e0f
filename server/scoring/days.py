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


def day_bounds_utc(first_day, last_day, timezone):
    """The UTC time texts ``[start, end)`` of local days ``first_day..last_day`` in ``timezone``."""
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.combine(dt.date.fromisoformat(first_day), dt.time(), zone)
    end = dt.datetime.combine(dt.date.fromisoformat(last_day) + dt.timedelta(days=1), dt.time(), zone)
    return format_utc(start), format_utc(end)



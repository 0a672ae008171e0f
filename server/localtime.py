"""Times as people read them: in the province's time zone (``TIMEZONE``), not UTC.

The database and the API keep UTC (``...Z``); the pages and the CLI show the
same instant in local time with its offset, e.g. ``2026-11-27 15:04 (UTC+07:00)``.
"""

import functools
import zoneinfo

from device_client.protocol import parse_time


@functools.lru_cache(maxsize=16)
def _zone(name):
    return zoneinfo.ZoneInfo(name)


def local_time(text, timezone, seconds=False):
    """``text`` (a stored UTC time, or None) in ``timezone``; '-' for no time."""
    if not text:
        return "-"
    moment = parse_time(text).astimezone(_zone(timezone))
    offset = moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + f" (UTC{offset[:3]}:{offset[3:]})"

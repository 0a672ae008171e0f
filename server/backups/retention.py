"""Which backups the schedule keeps, and removing the others.

``kept`` is a pure function of the backups' times, so its rules are tested
without files or clocks:

- the newest ``recent`` backups, however old (BACKUP_KEEP_RECENT, at least 1);
- for each of the last ``daily`` days, today included, the newest backup of that day (BACKUP_KEEP_DAILY);
- for each of the last ``monthly`` months, this one included, the newest backup of that month
  (BACKUP_KEEP_MONTHLY).

Days and months are those of TIMEZONE, as the people who ask "the backup of
the 3rd" count them. A backup kept by several rules is kept once; every
other one is removed. With the defaults (8, 14, 12) and a backup every 6
hours that is two days of every backup, a fortnight of dailies and a year of
monthlies: about 34 files.
"""

import datetime as dt
import os
import zoneinfo

from server.backups import files

LEFTOVER_AGE = dt.timedelta(hours=24)  # a temporary file this old is no backup still being written


def kept(moments, now, recent, daily, monthly, timezone="UTC"):
    """The subset of ``moments`` (aware datetimes, one per backup) that retention keeps, as a set."""
    zone = zoneinfo.ZoneInfo(timezone)
    newest_first = sorted(moments, reverse=True)
    keep = set(newest_first[:recent])
    today = now.astimezone(zone).date()
    first_day = today - dt.timedelta(days=daily - 1) if daily else None
    month_index = today.year * 12 + today.month - 1
    first_month = month_index - (monthly - 1) if monthly else None
    days_seen, months_seen = set(), set()
    for moment in newest_first:
        local = moment.astimezone(zone).date()
        if first_day is not None and local >= first_day and local not in days_seen:
            days_seen.add(local)
            keep.add(moment)
        month = local.year * 12 + local.month - 1
        if first_month is not None and month >= first_month and month not in months_seen:
            months_seen.add(month)
            keep.add(moment)
    return keep


def prune(folder, settings, now):
    """Remove the backups in ``folder`` that ``kept`` does not keep, and old leftovers of backups cut short.

    Returns the file names removed. Only files named as backups are ever
    touched; a database file without its manifest is a backup cut short and
    goes once it is a day old.
    """
    backups = files.list_backups(folder)
    whole = [backup for backup in backups if backup["manifest"] is not None]
    keep = kept([backup["taken_at"] for backup in whole], now, settings["BACKUP_KEEP_RECENT"],
                settings["BACKUP_KEEP_DAILY"], settings["BACKUP_KEEP_MONTHLY"], settings["TIMEZONE"])
    removed = []
    for backup in whole:
        if backup["taken_at"] not in keep:
            removed += _remove(backup["path"], files.manifest_path(backup["path"]))
    for backup in backups:
        if backup["manifest"] is None and now - backup["taken_at"] > LEFTOVER_AGE:
            removed += _remove(backup["path"])
    for path in files.leftovers(folder):
        if now.timestamp() - os.path.getmtime(path) > LEFTOVER_AGE.total_seconds():
            removed += _remove(path)
    return removed


def _remove(*paths):
    gone = []
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        gone.append(os.path.basename(path))
    return gone

"""Opening hours per unit and public holidays: the text form, inheritance, and "is it open?"."""

import datetime as dt

import pytest

from server import calendar
from server.manage import calendar as calendar_actions
from server.manage.actor import cli_actor
from server.errors import Invalid

pytestmark = pytest.mark.backends

ZONE = "Asia/Ho_Chi_Minh"
# Units: 1 province > 2 centre > 3 office; 4 another centre.
PARENTS = {1: None, 2: 1, 3: 2, 4: 1}
DEFAULT = [(None, d, o, c) for d in range(5) for o, c in (("07:00", "11:30"), ("13:00", "17:00"))]


def local(day, hour, minute=0, second=0):
    """A moment given as local time in Hà Nội (UTC+7)."""
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def test_hours_are_read_from_text_and_written_back_grouped():
    week = calendar.parse_hours("Mon-Fri 07:00-11:30,13:00-17:00; Sat 7:00-11:30")
    assert week[0] == [("07:00", "11:30"), ("13:00", "17:00")] and week[5] == [("07:00", "11:30")]
    assert 6 not in week
    assert calendar.format_hours(week) == "Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30"
    assert calendar.format_hours(calendar.parse_hours("Mon,Wed 08:00-12:00; Sun 00:00-24:00")) == \
        "Mon 08:00-12:00; Wed 08:00-12:00; Sun 00:00-24:00"


@pytest.mark.parametrize("text, message", [
    ("", "Give days and times"),
    ("weekdays", "needs days then times"),
    ("Mon-Fry 07:00-11:00", "'Mon-Fry' is not a day"),
    ("Fri-Mon 07:00-11:00", "not a range of days from Monday towards Sunday"),
    ("Mon 07:00-25:00", "does not exist"),
    ("Mon 7-11", "is not a time range like 07:00-11:30"),
    ("Mon 17:00-07:00", "must open before it closes"),
    ("Mon 07:00-12:00,11:00-17:00", "The times of Mon overlap"),
    ("Mon-Fri 07:00-11:00; Fri 13:00-17:00", "Fri is given twice"),
])
def test_bad_hours_are_refused_with_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        calendar.parse_hours(text)


def test_a_unit_without_hours_has_its_nearest_ancestors_else_the_default():
    hours = DEFAULT + [(2, 5, "07:00", "11:30")]  # the centre opens on Saturday mornings only
    cal = calendar.Calendar(hours, PARENTS, [], ZONE)
    saturday = local(28, 9)
    assert cal.source(3) == 2 and cal.source(4) is None
    assert cal.is_open(3, saturday) and cal.is_open(2, saturday)
    assert not cal.is_open(3, local(25, 9))  # the centre's own hours replace the default's whole week
    assert not cal.is_open(4, saturday) and cal.is_open(4, local(25, 9))


def test_a_range_includes_its_opening_minute_and_excludes_its_closing_one():
    cal = calendar.Calendar(DEFAULT, PARENTS, [], ZONE)
    assert cal.is_open(3, local(25, 7, 0, 0))
    assert cal.is_open(3, local(25, 11, 29, 59))
    assert not cal.is_open(3, local(25, 11, 30))
    assert not cal.is_open(3, local(25, 12, 15))
    assert not cal.is_open(3, local(25, 6, 59, 59))


def test_a_public_holiday_closes_every_unit_and_has_no_open_minutes():
    cal = calendar.Calendar(DEFAULT + [(2, 2, "07:00", "11:30")], PARENTS, ["2026-11-25"], ZONE)
    assert not cal.is_open(3, local(25, 9)) and not cal.is_open(4, local(25, 9))
    assert cal.open_minutes(4, dt.date(2026, 11, 25)) == 0
    assert cal.open_minutes(4, dt.date(2026, 11, 26)) == 270 + 240
    assert cal.open_minutes(3, dt.date(2026, 11, 26)) == 0


def test_moments_may_be_epoch_seconds_stored_text_or_datetimes():
    cal = calendar.Calendar(DEFAULT, PARENTS, [], ZONE)
    moment = local(25, 9)
    text = moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    mask = calendar.open_mask(cal, [3, 3, 3, 4], [moment.timestamp(), text, moment, local(25, 12).timestamp()])
    assert mask.tolist() == [True, True, True, False]


@pytest.mark.parametrize("zone", [ZONE, "Europe/Berlin"])  # Berlin: the vectorised path across DST changes
def test_the_vectorised_mask_agrees_with_is_open_vote_by_vote(zone):
    import numpy as np

    cal = calendar.Calendar(DEFAULT + [(2, 5, "07:00", "11:30"), (4, 6, "00:00", "24:00")], PARENTS,
                            ["2026-03-30", "2026-10-26"], zone)
    rng = np.random.default_rng(7)
    moments = np.concatenate([rng.uniform(1.7745e9, 1.7775e9, 3000),  # around the end of March 2026
                              rng.uniform(1.7923e9, 1.7953e9, 3000)])  # around the end of October 2026
    units = rng.integers(1, 5, len(moments))
    expected = [cal.is_open(int(unit), float(moment)) for unit, moment in zip(units, moments)]
    assert cal.open_mask(units, moments).tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_open_mask_reads_the_database_when_given_one(db):
    calendar_actions.import_holidays(db, cli_actor())
    national_day = dt.datetime(2026, 9, 2, 3, tzinfo=dt.timezone.utc)  # 10:00 local, a Wednesday
    ordinary = dt.datetime(2026, 9, 9, 3, tzinfo=dt.timezone.utc)
    assert calendar.open_mask(db, [None, None], [national_day, ordinary]).tolist() == [False, True]


def test_the_shipped_holidays_hold_the_tet_breaks_and_national_days():
    with open(calendar_actions.SHIPPED_HOLIDAYS, encoding="utf-8") as handle:
        rows = calendar_actions.read_holidays_csv(handle.read())
    days = {row["day"] for row in rows}
    assert {"2026-02-17", "2026-04-26", "2026-04-30", "2026-05-01", "2026-09-02", "2026-09-01",
            "2027-02-06", "2027-04-16", "2027-09-02", "2027-09-03"} <= days
    assert {d for d in days if d.startswith("2026-02")} == {f"2026-02-{n}" for n in range(14, 23)}
    assert all(row["name_vi"] and row["name_en"] for row in rows)


def test_the_organisations_hours_cannot_be_emptied_but_a_units_can_inherit_again(db):
    db.execute("INSERT INTO units (code, name, created_at, updated_at) VALUES ('U', 'U', 'x', 'x')")
    with pytest.raises(Invalid) as caught:
        calendar_actions.set_hours(db, cli_actor(), None, "")
    assert "hours" in caught.value.fields
    own = calendar_actions.set_hours(db, cli_actor(), "U", "Sat 07:00-11:30")
    assert (own["own"], own["hours"]) == (True, "Sat 07:00-11:30")
    inherited = calendar_actions.set_hours(db, cli_actor(), "U", "")
    assert (inherited["own"], inherited["from"], inherited["hours"]) == (False, None, "Mon-Fri 07:00-11:30,13:00-17:00")
    with pytest.raises(Invalid) as caught:
        calendar_actions.set_hours(db, cli_actor(), "U", "Mon 09:00")
    assert caught.value.fields == {"hours": ["'09:00' in 'Mon 09:00' is not a time range like 07:00-11:30."]}

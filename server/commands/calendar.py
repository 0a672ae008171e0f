"""``hailong hours`` and ``hailong holidays``: when units are open, through the calendar actions."""

import click

from server.commands import cli_actor
from server.manage import calendar as calendar_actions


@click.group()
def hours():
    """Opening hours per unit (a unit without its own has its nearest ancestor's, else the default).

    Example: hailong hours set DN-TT "Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30"
    """


def _show(found):
    where = "its own" if found["own"] else (f"from {found['from']}" if found["from"] else "the organisation's default")
    click.echo(f"{found['unit'] or 'default'}: {found['hours'] or '(closed)'} ({where})")


@hours.command("show")
@click.argument("unit", required=False)
@click.pass_obj
def show(obj, unit):
    """The hours that apply to UNIT (the organisation's default without one), and where they come from.

    Example: hailong hours show DN-TT
    """
    _show(calendar_actions.hours(obj.db(), cli_actor(), unit))


@hours.command("set")
@click.argument("unit")
@click.argument("spec")
@click.pass_obj
def set_(obj, unit, spec):
    """Give UNIT its own hours: days then time ranges, groups separated by ';'.

    Example: hailong hours set DN-TT "Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30"
    """
    _show(calendar_actions.set_hours(obj.db(), cli_actor(), unit, spec))


@hours.command("set-default")
@click.argument("spec")
@click.pass_obj
def set_default(obj, spec):
    """Set the organisation's default hours (units without hours of their own, nor an ancestor's).

    Example: hailong hours set-default "Mon-Fri 07:00-11:30,13:00-17:00"
    """
    _show(calendar_actions.set_hours(obj.db(), cli_actor(), None, spec))


@hours.command("clear")
@click.argument("unit")
@click.pass_obj
def clear(obj, unit):
    """Remove UNIT's own hours: it inherits its nearest ancestor's (or the default) again.

    Example: hailong hours clear DN-TT
    """
    _show(calendar_actions.set_hours(obj.db(), cli_actor(), unit, ""))


@click.group()
def holidays():
    """Public holidays (local dates): every unit is closed on them.

    Example: hailong holidays import
    """


@holidays.command("list")
@click.option("--year", type=int, help="Only this year.")
@click.pass_obj
def list_(obj, year):
    """The holidays, in date order.

    Example: hailong holidays list --year 2026
    """
    for row in calendar_actions.list_holidays(obj.db(), cli_actor(), year):
        click.echo(f"{row['day']}  {row['name_vi']}" + (f" ({row['name_en']})" if row["name_en"] else ""))


@holidays.command("add")
@click.argument("day")
@click.argument("name_vi")
@click.option("--name-en", default="", help="The English name.")
@click.pass_obj
def add(obj, day, name_vi, name_en):
    """Add (or rename) the holiday on DAY (YYYY-MM-DD).

    Example: hailong holidays add 2026-09-02 "Quốc khánh" --name-en "National Day"
    """
    row = calendar_actions.add_holiday(obj.db(), cli_actor(), {"day": day, "name_vi": name_vi, "name_en": name_en})
    click.echo(f"Holiday {row['day']}: {row['name_vi']}.")


@holidays.command("remove")
@click.argument("day")
@click.pass_obj
def remove(obj, day):
    """Remove the holiday on DAY (YYYY-MM-DD).

    Example: hailong holidays remove 2026-11-24
    """
    calendar_actions.remove_holiday(obj.db(), cli_actor(), day)
    click.echo(f"Holiday {day} removed.")


@holidays.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
@click.pass_obj
def import_(obj, file):
    """Add the holidays of FILE (CSV: day,name_vi,name_en), or without one the Vietnamese public holidays
    of 2026 and 2027 shipped with the server (server/manage/holidays-vn.csv).

    Example: hailong holidays import
    """
    done = calendar_actions.import_holidays(obj.db(), cli_actor(), file.read() if file else None)
    click.echo(f"{done['rows']} holidays read, {len(done['changed'])} added or renamed.")

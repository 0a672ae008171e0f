"""``hailong flags list|show|review``: the anomaly flags and HR's review, from the command line."""

import json

import click

from server.commands import cli_actor, local_time


@click.group()
def flags():
    """Flags raised by the nightly anomaly scan, and their review.

    Example: hailong flags list --status open --unit DN-TT
    """


def _line(flag, config):
    who = flag["staff"] or flag["counter"] or flag["device"] or "-"
    q = "-" if flag["q_value"] is None else f"{flag['q_value']:.3g}"
    return (f"{flag['id']:>6}  {flag['status']:<9}  {flag['severity']:<6}  {flag['kind']:<16}  {who:<12}"
            f"  {flag['unit'] or '-':<10}  {flag['n_votes']:>5} votes  q={q}  {local_time(flag['first_at'], config)}")


@flags.command("list")
@click.option("--status", type=click.Choice(["open", "confirmed", "dismissed"]), help="Only flags in this state.")
@click.option("--unit", help="Only flags of this unit and its subtree.")
@click.option("--staff", help="Only flags about this staff member (code).")
@click.option("--period", help="Only flags whose votes fall in 2026-10, 2026-Q4 or 2026.")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the flags as JSON.")
@click.pass_obj
def list_(obj, status, unit, staff, period, limit, as_json):
    """List flags, newest first.

    Example: hailong flags list --status open --period 2026-10
    """
    from server.manage.flags import list_flags

    filters = {"status": status, "unit": unit, "staff": staff, "period": period, "limit": limit}
    rows = list_flags(obj.db(), cli_actor(), filters, obj.config)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for row in rows:
        click.echo(_line(row, obj.config))
    click.echo(f"{len(rows)} flag(s).", err=True)


@flags.command()
@click.argument("flag_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the flag, its votes and reviews as JSON.")
@click.pass_obj
def show(obj, flag_id, as_json):
    """Show one flag: its test and numbers, the votes it concerns, and every review.

    Example: hailong flags show 12
    """
    from server.manage.flags import get_flag

    flag = get_flag(obj.db(), cli_actor(), flag_id)
    if as_json:
        click.echo(json.dumps(flag, ensure_ascii=False, indent=1))
        return
    click.echo(_line(flag, obj.config))
    click.echo(f"test: {flag['test']}  statistic: {flag['statistic']}  p: {flag['p_value']}  q: {flag['q_value']}")
    click.echo(f"detail: {json.dumps(flag['detail'], ensure_ascii=False, sort_keys=True)}")
    for vote in flag["votes"]:
        click.echo(f"  vote {vote['id']}: {local_time(vote['counted_at'], obj.config)}  {vote['counter']}"
                   f"  rating {vote['rating']} (scale {vote['scale_version']})  ticket {vote['ticket'] or '-'}"
                   f"{'  ' + ','.join(vote['flags']) if vote['flags'] else ''}")
    for review in flag["reviews"]:
        click.echo(f"  reviewed {local_time(review['at'], obj.config)} by {review['by']}: {review['status']}"
                   f" – {review['reason']}")


@flags.command()
@click.argument("flag_id", type=click.IntRange(min=1))
@click.option("--confirm", "decision", flag_value="confirm", help="Misuse: the flag's votes leave the scores.")
@click.option("--dismiss", "decision", flag_value="dismiss", help="No misuse: the flag's votes count.")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@click.pass_obj
def review(obj, flag_id, decision, reason):
    """Review a flag: --confirm misuse or --dismiss it, with a reason (audited as cli).

    Example: hailong flags review 12 --dismiss --reason "Queue of a school group; checked the tickets"
    """
    from server.manage.flags import review_flag

    if decision is None:
        raise click.UsageError("Give --confirm or --dismiss.")
    flag = review_flag(obj.db(), cli_actor(), flag_id, decision, reason, obj.config)
    click.echo(f"Flag {flag['id']} {flag['status']}.")


@click.command()
@click.option("--day", help="Scan this local day (YYYY-MM-DD); default yesterday.")
@click.option("--from", "day_from", help="First local day of a window scanned as one (with --to).")
@click.option("--to", "day_to", help="Last local day of the window.")
@click.pass_obj
def scan(obj, day, day_from, day_to):
    """Run the anomaly scan over one day or a window of days now, and store its flags (audited as cli).

    A window is tested as one (a month finds a steady excess a single day cannot); running the same
    window again finds the flags it raised before instead of making new ones.

    Example: hailong scan --from 2026-10-01 --to 2026-10-31
    """
    import datetime as dt
    import zoneinfo

    from server.scoring.scan import scan_days

    if day and (day_from or day_to):
        raise click.UsageError("Give --day, or --from and --to, not both.")
    if bool(day_from) != bool(day_to):
        raise click.UsageError("Give both --from and --to.")
    if not (day or day_from):
        today = dt.datetime.now(zoneinfo.ZoneInfo(obj.config["TIMEZONE"])).date()
        day = (today - dt.timedelta(days=1)).isoformat()
    first, last = (day, day) if day else (day_from, day_to)
    for text in (first, last):
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise click.UsageError(f"Not a day: {text} (YYYY-MM-DD).") from None
    if last < first:
        raise click.UsageError("--to is before --from.")
    done = scan_days(obj.db(), obj.config, first, last, actor=cli_actor())
    click.echo(f"Scanned {first}..{last}: {done['votes']} votes, {done['n_tests']} tests, {done['flags']} flags"
               f" ({done['new_flags']} new, {done['rapid_repeat']} rapid_repeat). Scan {done['scan_id']}.")

"""``hailong scores`` and ``hailong period close|list|show``: the evaluation from the command line."""

import csv
import io
import json

import click

from server.commands import cli_actor


def score_actions():
    """``server.manage.scores``, imported when a scores command runs: it brings SciPy (about half a second
    and 100 MB), which every other ``hailong`` command – an export, a checkpoint – does without."""
    from server.manage import scores

    return scores


def period_actions():
    from server.manage import periods

    return periods

FORMATS = click.Choice(["table", "csv", "json"])
CSV_COLUMNS = ("code", "name", "unit_code", "n", "satisfied", "rate", "rate_low", "rate_high", "index", "score",
               "score_low", "score_high", "grade", "flagged", "excluded", "open_flags")


def _percent(value):
    return "-" if value is None else f"{100 * value:.1f}"


def _table(answer):
    period = answer["period"]
    state = f"closed, revision {period['revision']}" if period["closed"] else "open"
    lines = [f"Period {period['key']} ({period['first_day']} to {period['last_day']}, {state})"
             f"{' for ' + answer['unit']['code'] if answer['unit'] else ''};"
             f" {'counted and flagged votes' if answer['include_flagged'] else 'counted votes only'}."]
    header = ("code", "name", "unit", "n", "rate %", "Wilson 95%", "score % (interval)", "grade",
              "flagged/excluded/open flags")
    rows = [header]
    for row in answer["staff"]:
        rows.append((row["code"], row["name"], row["unit_code"] or "", str(row["n"]), _percent(row["rate"]),
                     f"{_percent(row['rate_low'])}-{_percent(row['rate_high'])}",
                     f"{_percent(row['score'])} ({_percent(row['score_low'])}-{_percent(row['score_high'])})",
                     row["grade"], f"{row['flagged']}/{row['excluded']}/{row.get('open_flags', 0)}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in rows]
    total = answer["total"]
    if total:
        lines.append(f"Total: n {total['n']}, rate {_percent(total['rate'])}%"
                     f" ({_percent(total['rate_low'])}-{_percent(total['rate_high'])}),"
                     f" flagged {total['flagged']}, excluded {total['excluded']}.")
    return "\n".join(lines)


def _csv(answer):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in answer["staff"]:
        writer.writerow([row.get(column) for column in CSV_COLUMNS])
    return out.getvalue().rstrip("\n")


def _show(answer, output):
    if output == "json":
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    elif output == "csv":
        click.echo(_csv(answer))
    else:
        click.echo(_table(answer))


@click.command()
@click.option("--period", required=True, help="A month (2026-10), a quarter (2026-Q4) or a year (2026).")
@click.option("--unit", "unit_code", help="A unit's code: its subtree only (default: everything).")
@click.option("--format", "output", type=FORMATS, default="table", show_default=True)
@click.option("--include-flagged", is_flag=True, help="Score counted and flagged votes (default: counted only).")
@click.pass_obj
def scores(obj, period, unit_code, output, include_flagged):
    """Staff scores of a period: votes, raw rate with its Wilson interval, score with its interval, grade.

    A closed period is read from its latest revision.

    Example: hailong scores --period 2026-10 --unit DN-TT --format csv
    """
    answer = score_actions().period_scores(obj.db(), cli_actor(), period, unit_code, include_flagged,
                                         settings=obj.config)
    _show(answer, output)


@click.group()
def period():
    """Close periods and read their revisions.

    Example: hailong period close 2026-10
    """


@period.command("close")
@click.argument("key")
@click.option("--unit", "unit_code", help="Close for this unit's subtree only (default: the whole organisation).")
@click.pass_obj
def close(obj, key, unit_code):
    """Close KEY (2026-10, 2026-Q4, 2026): freeze its scores as revision 1; late votes make revisions later.

    Example: hailong period close 2026-10 --unit DN-TT
    """
    closed = period_actions().close_period(obj.db(), cli_actor(), key, unit_code, settings=obj.config)
    revision = closed["revisions"][-1]
    click.echo(f"Closed {closed['key']} for {closed['unit'] or 'the whole organisation'}: revision 1,"
               f" {revision['n_votes']} votes (up to vote {revision['last_vote_id']}).")


@period.command("list")
@click.pass_obj
def list_(obj):
    """Closed periods, newest first, with each revision and why it was made.

    Example: hailong period list
    """
    rows = period_actions().list_periods(obj.db(), cli_actor())
    if not rows:
        click.echo("No closed periods.")
    for row in rows:
        click.echo(f"{row['key']} {row['unit'] or 'all'}: closed {row['closed_at']} by {row['closed_by']}")
        for revision in row["revisions"]:
            click.echo(f"  revision {revision['revision']} {revision['created_at']} {revision['reason']}"
                       f" ({revision['n_votes']} votes, software {revision['software_version']})")


@period.command("show")
@click.argument("key")
@click.option("--revision", type=click.IntRange(1), required=True, help="The revision number (1 = as closed).")
@click.option("--unit", "unit_code", help="A unit's code: its subtree only.")
@click.option("--format", "output", type=FORMATS, default="table", show_default=True)
@click.option("--include-flagged", is_flag=True, help="Score counted and flagged votes (default: counted only).")
@click.pass_obj
def show(obj, key, revision, unit_code, output, include_flagged):
    """One revision of a closed period, as `hailong scores` shows a period.

    Example: hailong period show 2026-10 --revision 1
    """
    answer = period_actions().period_revision(obj.db(), cli_actor(), key, revision, unit_code, include_flagged,
                                            settings=obj.config)
    _show(answer, output)

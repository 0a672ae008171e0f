"""The ``hailong`` subcommands, one module per area.

Commands that change something call the same actions as the pages and the
API (``server/manage/``) as the CLI actor, so the same rules apply and the
change is audited as made from the command line.
"""

from server.manage.actor import cli_actor  # noqa: F401  (what every command acts as)
from server.localtime import local_time as _local_time


def local_time(text, config):
    return _local_time(text, config["TIMEZONE"])


def register(cli):
    from server.commands import calendar, database, devices, jobs, org, serve, staff, users

    cli.add_command(database.migrate)
    cli.add_command(serve.serve)
    cli.add_command(jobs.jobs)
    cli.add_command(org.org)
    cli.add_command(devices.device_code)
    cli.add_command(devices.device)
    cli.add_command(staff.staff)
    cli.add_command(users.user)
    cli.add_command(calendar.hours)
    cli.add_command(calendar.holidays)
    from server.commands import scales  # issue 9: rating-scale versions

    cli.add_command(scales.scale)
    from server.commands import flags  # issue 9: flags and their review, the anomaly scan

    cli.add_command(flags.flags)
    cli.add_command(flags.scan)
    # Alerts, email, monthly reports (issue 9).
    from server.commands import email, reports

    cli.add_command(email.email_group)
    # Scores and periods (issue 9).
    from server.commands import scores

    cli.add_command(scores.scores)
    cli.add_command(scores.period)
    cli.add_command(reports.report)
    # The tamper-evident log (issue 10).
    from server.commands import ledger

    cli.add_command(ledger.checkpoint)
    cli.add_command(ledger.keys)
    from server.commands import export  # issue 10: verifiable exports

    cli.add_command(export.export)
    # The auditor's verifier (issue 10): tools/verify.py's checks as a command.
    from server.commands import verify

    cli.add_command(verify.verify)
    # Backups and restore (issue 11); the schedule is in server/commands/backup_jobs.py.
    from server.commands import backup

    cli.add_command(backup.backup)
    cli.add_command(backup.restore)
    # Moving a SQLite installation to PostgreSQL (issue 12).
    from server.commands import copy_database

    cli.add_command(copy_database.copy_database)

"""``hailong backup``, ``hailong backup list`` and ``hailong restore``: the database's backups by hand."""

import datetime as dt

import click

from server.backups import BackupError, refuse_postgresql


def _fail(exc):
    raise click.ClickException(str(exc)) from None


def _sqlite_only(config):
    """These commands copy SQLite files: on PostgreSQL, one ``Error:`` line naming its own tools."""
    try:
        refuse_postgresql(config)
    except BackupError as exc:
        _fail(exc)


@click.group(invoke_without_command=True)
@click.option("--to", "folder", type=click.Path(file_okay=False),
              help="Folder to write the backup to (default: BACKUP_DIR, or backups beside the database).")
@click.pass_context
def backup(ctx, folder):
    """Take an online backup of the database now, while the server and the jobs keep running.

    Writes hailong-<UTC time>.db (SQLite's backup API over one snapshot,
    checked with PRAGMA integrity_check) and its manifest .json: SHA-256,
    size, rows per table, migrations, each log tree's size, root and latest
    checkpoint. The instance's secrets are not in it (docs/operations.md).

    Example: hailong backup --to /srv/hailong-backups
    """
    if ctx.invoked_subcommand is not None:
        return
    from server.backups import snapshot

    obj = ctx.obj
    _sqlite_only(obj.config)
    db = obj.db()
    try:
        manifest = _take(snapshot, db, obj.config, folder)
    except BackupError as exc:
        _fail(exc)
    finally:
        db.close()
    log = manifest["log"]
    click.echo(f"Backed up {manifest['size'] / 2**20:,.1f} MiB in {manifest['seconds']:.1f} s to {manifest['path']}"
               f" (manifest beside it): {manifest['tables'].get('votes', 0):,} votes;"
               + "; ".join(f" {tree} log {state['size']:,} leaves" for tree, state in log.items()) + ".")
    click.echo("Copy it off this machine; the instance's secrets are not in it (docs/operations.md).")


def _take(snapshot, db, config, folder):
    """Take the backup; a progress bar (pages copied) when stderr is a terminal."""
    if not click.get_text_stream("stderr").isatty():
        return snapshot.take(db, config, folder=folder)
    with click.progressbar(length=1, label="Backing up", file=click.get_text_stream("stderr")) as bar:

        def moved(done, total):
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        return snapshot.take(db, config, folder=folder, progress=moved)


@backup.command("list")
@click.option("--to", "folder", type=click.Path(file_okay=False),
              help="Folder to list (default: BACKUP_DIR, or backups beside the database).")
@click.pass_obj
def list_backups(obj, folder):
    """The backups in the backup folder, oldest first: time, size, votes, the votes log's size and checkpoint.

    A database file without its manifest is a backup cut short: shown, never
    restored. Retention (in `hailong jobs`) keeps what BACKUP_KEEP_* say.

    Example: hailong backup list
    """
    from server.backups import files

    _sqlite_only(obj.config)
    folder = folder or files.backup_dir(obj.config)
    backups = files.list_backups(folder)
    if not backups:
        click.echo(f"No backups in {folder}.")
        return
    click.echo(f"Backups in {folder}:")
    for item in backups:
        manifest = item["manifest"]
        when = item["taken_at"].strftime("%Y-%m-%d %H:%M:%S UTC")
        if manifest is None:
            click.echo(f"  {item['name']}  {when}  {item['size'] / 2**20:,.1f} MiB  no manifest: cut short, not a"
                       " backup")
            continue
        votes_log = manifest["log"].get("votes", {})
        checkpoint = votes_log.get("checkpoint")
        click.echo(f"  {item['name']}  {when}  {item['size'] / 2**20:,.1f} MiB  "
                   f"{manifest['tables'].get('votes', 0):,} votes  votes log {votes_log.get('size', 0):,}"
                   + (f" (checkpoint {checkpoint['id']} at {checkpoint['size']:,})" if checkpoint else ""))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True,
              help="Replace the database that is there (kept as DATABASE.before-restore-<time>); refused while a"
                   " process has it open.")
@click.option("--check-only", is_flag=True, help="Check the backup and say what was found; restore nothing.")
@click.pass_obj
def restore(obj, file, replace, check_only):
    """Check a backup and make it the instance's database.

    Checks the file against its manifest (SHA-256, size), PRAGMA
    integrity_check, the rows of every table, and each log tree's root at its
    latest signed checkpoint against the root that checkpoint signed. Changes
    nothing unless all hold. An existing database is replaced only with
    --replace and only while no hailong serve or hailong jobs has it open.

    Example: hailong --instance /srv/hailong restore /srv/hailong-backups/hailong-20261130T120000Z.db
    """
    from server.backups import restore as restoring

    _sqlite_only(obj.config)
    try:
        if check_only:
            report = restoring.check(file, obj.config)
        else:
            report = restoring.restore(file, obj.config, replace=replace)
    except BackupError as exc:
        _fail(exc)
    manifest = report["manifest"]
    click.echo(f"Backup {file}, taken {manifest['taken_at']} by hailong {manifest.get('software_version', '?')}:")
    for line in report["findings"]:
        click.echo(f"  {line}")
    if check_only:
        click.echo("The backup is sound; nothing was restored.")
        return
    click.echo(f"Restored into {report['target']}.")
    if report["aside"]:
        click.echo(f"The database that was there is kept as {report['aside']}.")
    if report["pending"]:
        click.echo(f"Run `hailong migrate`: {len(report['pending'])} migration(s) of this version are not in the"
                   " backup yet.")
    for line in report["secrets"]:
        click.echo(f"Warning: {line}.", err=True)
    age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(manifest["taken_at"].replace("Z", "+00:00"))
    click.echo(f"The database is now as it was {_age(age)} ago. What came in since is not in it: see"
               " docs/operations.md (Backups, restore and disaster recovery) before starting the server.")


def _age(delta):
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.0f} days"

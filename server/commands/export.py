"""``hailong export``: raw votes (or the audit log) as a verifiable bundle, a zip or a folder."""

import os

import click

from server.commands import cli_actor


@click.command("export")
@click.option("--kind", type=click.Choice(["votes", "audit"]), default="votes", show_default=True,
              help="Raw votes, or the admin audit log.")
@click.option("--from", "from_", metavar="DAY", help="First local day (2026-10-01), on the time a vote counts at.")
@click.option("--to", metavar="DAY", help="Last local day, included.")
@click.option("--unit", help="Only votes of this unit's subtree (the staff member's or the counter's unit then).")
@click.option("--staff", help="Only this staff member's votes (code).")
@click.option("--device", help="Only this tablet's votes (device id).")
@click.option("--flagged", type=click.Choice(["include", "exclude", "only"]), default="include", show_default=True,
              help="Votes with a flag (at ingest, or a scan flag open or confirmed): with the others, left out, "
                   "or alone.")
@click.option("--actor", help="--kind audit: only entries by this actor (a username, or cli).")
@click.option("--action", help="--kind audit: only entries of this action (create, export, checkpoint, ...).")
@click.option("--object-type", help="--kind audit: only entries about this kind of object (staff, device, ...).")
@click.option("--hash-tickets", is_flag=True, help="Replace ticket numbers by a keyed hash (HMAC-SHA256).")
@click.option("--bom", is_flag=True, help="Start CSV files with a byte-order mark (Excel then reads UTF-8).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "xlsx"]), default="csv", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(),
              help="The zip to write; a path ending in / (or an existing folder) gets the files instead.")
@click.pass_obj
def export(obj, kind, from_, to, unit, staff, device, flagged, actor, action, object_type, hash_tickets, bom,
           fmt, output):
    """Write raw votes with their leaf indices, the devices' keys, sync incidents, signed checkpoints and
    proofs as one bundle that `hailong verify` and tools/verify.py check without the server.

    Example: hailong export --from 2026-10-01 --to 2026-10-31 --unit DN-TT --format csv --bom -o oct.zip
    """
    from server.exports.bundle import FolderTarget
    from server.manage import exports

    db = obj.db()
    by = cli_actor()
    filters = {"from": from_, "to": to, "format": fmt, "bom": bom}
    if kind == "votes":
        if actor or action or object_type:
            raise click.UsageError("--actor, --action and --object-type are for --kind audit.")
        filters.update(unit=unit, staff=staff, device=device, flagged=flagged, hash_tickets=hash_tickets)
        prepared = exports.prepare_votes(db, by, obj.config, filters)
    else:
        if unit or staff or device or hash_tickets or flagged != "include":
            raise click.UsageError("--unit, --staff, --device, --flagged and --hash-tickets are for --kind votes.")
        filters.update(actor=actor, action=action, object_type=object_type)
        prepared = exports.prepare_audit(db, by, obj.config, filters)
    folder = output.endswith(("/", os.sep)) or os.path.isdir(output)
    if folder:
        out = FolderTarget(output)
        manifest = _run(db, by, obj.config, prepared, out)
    else:
        partial = output + ".part"
        try:
            with open(partial, "wb") as handle:
                manifest = _run(db, by, obj.config, prepared, handle)
            os.replace(partial, output)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    counts = ", ".join(f"{n:,} {name}" for name, n in manifest["counts"].items())
    click.echo(f"Wrote {counts} to {output} (checkpoint {manifest['checkpoint']['id']}, "
               f"size {manifest['checkpoint']['size']:,}).", err=True)


def _run(db, actor, config, prepared, out):
    """Drive the export; a progress bar (rows scanned of the log) when stderr is a terminal."""
    from server.manage import exports

    steps = exports.run(db, actor, config, prepared, out)
    if not click.get_text_stream("stderr").isatty():
        return exports.drive(steps)
    with click.progressbar(length=1, label=f"Exporting {prepared.kind}", file=click.get_text_stream("stderr"),
                           show_eta=True) as bar:

        def moved(done, total):
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        return exports.drive(steps, moved)

"""``hailong device-code``, ``hailong device list``, ``hailong device revoke``."""

import json

import click

from server import devices as device_service
from server.storage import devices


@click.command("device-code")
@click.option("--counter", "counter_code", required=True, help="Code of the counter the tablet serves.")
@click.option("--ttl-minutes", type=click.IntRange(min=1), help="Validity (default: ENROLL_CODE_TTL_MINUTES).")
@click.pass_obj
def device_code(obj, counter_code, ttl_minutes):
    """Issue a one-time enrollment code for a tablet at COUNTER.

    Example: hailong device-code --counter HCM-Q1-Q01
    """
    ttl = ttl_minutes or obj.config["ENROLL_CODE_TTL_MINUTES"]
    try:
        code, expires = device_service.issue_code(obj.db(), counter_code, ttl)
    except device_service.NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Enrollment code for counter {counter_code}: {code}")
    click.echo(f"Valid once, until {expires}.")
    click.echo(f"On the tablet: hailong-device enroll --server URL --code {code}")


@click.group()
def device():
    """Enrolled tablets.

    Example: hailong device list
    """


@device.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_(obj, as_json):
    """List devices with their counter, status, last contact and queue.

    Example: hailong device list --json
    """
    rows = devices.list_devices(obj.db())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No devices enrolled yet. Issue a code with `hailong device-code --counter CODE`.")
        return
    header = ("DEVICE", "COUNTER", "STATUS", "LAST SEEN (UTC)", "QUEUE", "ACKED", "OFFSET ms", "VERSION")
    table = [header]
    for row in rows:
        status = row["status"] if row["status"] != "active" or not row["silent_since"] else "silent"
        table.append(
            (
                row["id"],
                row["counter"],
                status,
                row["last_seen_at"] or "-",
                "-" if row["queue_depth"] is None else str(row["queue_depth"]),
                str(row["ack_seq"]),
                "-" if row["clock_offset_ms"] is None else str(row["clock_offset_ms"]),
                row["app_version"] or "-",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


@device.command()
@click.argument("device_id")
@click.pass_obj
def revoke(obj, device_id):
    """Revoke DEVICE: every call it makes gets 401; its delivered votes stay.

    Example: hailong device revoke dev-7k2m9q4x
    """
    db = obj.db()
    row = devices.get_device(db, device_id)
    if row is None:
        raise click.ClickException(f"No device has the id {device_id!r}.")
    if not devices.revoke_device(db, device_id):
        click.echo(f"Device {device_id} was already revoked.")
        return
    click.echo(f"Revoked {device_id}; its {row['ack_seq']} acknowledged votes stay.")

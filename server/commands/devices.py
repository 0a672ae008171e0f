"""``hailong device-code``, ``hailong device list``, ``hailong device revoke``: the device actions, as the CLI."""

import json

import click

from server.commands import cli_actor, local_time
from server.manage import devices


@click.command("device-code")
@click.option("--counter", "counter_code", required=True, help="Code of the counter the tablet serves.")
@click.option("--ttl-minutes", type=click.IntRange(min=1), help="Validity (default: ENROLL_CODE_TTL_MINUTES).")
@click.option("--server", "server_url", help="Address tablets reach the server at, for the link "
              "(default: PUBLIC_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: counter, code, expires_at, link.")
@click.pass_obj
def device_code(obj, counter_code, ttl_minutes, server_url, as_json):
    """Issue a one-time enrollment code for a tablet at COUNTER.

    Example: hailong device-code --counter HCM-TTHCC-Q1
    """
    data = {"counter": counter_code, **({"ttl_minutes": ttl_minutes} if ttl_minutes else {})}
    issued = devices.issue_code(obj.db(), cli_actor(), data, obj.config, server_url)
    if as_json:
        click.echo(json.dumps({k: issued[k] for k in ("counter", "code", "expires_at", "link")}, ensure_ascii=False))
        return
    click.echo(f"Enrollment code for counter {issued['counter']}: {issued['code']}")
    click.echo(f"Valid once, until {local_time(issued['expires_at'], obj.config)}.")
    if issued["link"]:
        click.echo(f"On the tablet: hailong-device enroll --link {issued['link']}")
    else:
        click.echo(f"On the tablet: hailong-device enroll --server URL --code {issued['code']}")
        click.echo("(Set PUBLIC_URL, or pass --server, to get a link to scan instead.)")


@click.group()
def device():
    """Enrolled tablets.

    Example: hailong device list
    """


def _ago(seconds):
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _printable(text):
    """What a device reported, safe for a terminal: control and direction characters written as escapes.

    Devices enrolled before such text was refused may have stored some.
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


@device.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_(obj, as_json):
    """List devices with their counter, state, last contact and the queue they last reported.

    Example: hailong device list --json
    """
    rows = devices.list_devices(obj.db(), cli_actor(), obj.config)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No devices enrolled yet. Issue a code with `hailong device-code --counter CODE`.")
        return
    header = ("DEVICE", "COUNTER", "UNIT", "STATE", "LAST HEARD", "QUEUE (REPORTED)", "ACKED", "OFFSET ms",
              "VERSION")
    table = [header]
    for row in rows:
        queue = "-" if row["queue_depth"] is None else f"{row['queue_depth']} ({_ago(row['queue_age_seconds'])})"
        table.append((
            row["id"], row["counter"], row["unit"], row["state"], _ago(row["last_heard_seconds"]), queue,
            str(row["ack_seq"]), "-" if row["clock_offset_ms"] is None else str(row["clock_offset_ms"]),
            row["app_version"] or "-",
        ))
    table = [tuple(map(_printable, line)) for line in table]
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
    before = devices.get_device(db, cli_actor(), device_id, obj.config)
    if before["state"] == "revoked":
        click.echo(f"Device {device_id} was already revoked.")
        return
    row = devices.revoke(db, cli_actor(), device_id, obj.config)
    click.echo(f"Revoked {device_id}; its {row['ack_seq']} acknowledged votes stay.")

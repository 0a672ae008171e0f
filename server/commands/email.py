"""``hailong email test ADDRESS``: check the SMTP settings by sending one mail now."""

import smtplib

import click

from server import notify
from server.notify import mail


@click.group("email")
def email_group():
    """Mail the server sends (alerts, monthly reports).

    Example: hailong email test manager@example.gov.vn
    """


@email_group.command("test")
@click.argument("address")
@click.pass_obj
def test(obj, address):
    """Send a test mail to ADDRESS now, with the SMTP_* settings, and say whether the mail server took it.

    Example: hailong email test manager@example.gov.vn
    """
    config = obj.config
    if not notify.email_on(config):
        raise click.ClickException("Email is off: set SMTP_HOST (see docs/admin.md, \"Email\").")
    click.echo(notify.describe(config))
    try:
        mail.send_test(config, address)
    except (OSError, smtplib.SMTPException) as exc:
        raise click.ClickException(f"The mail server did not take the test mail: {mail.error_text(exc)}") from None
    click.echo(f"Sent a test mail to {address}.")

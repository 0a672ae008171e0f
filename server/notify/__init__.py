"""Mail the server sends on its own: alerts and monthly unit reports, through the email outbox.

``mail`` queues a message in ``email_outbox`` (once per key) and sends what is
due with ``smtplib``, retrying with backoff; ``alerts`` checks the thresholds
and raises alerts. Both are plain functions of ``(db, settings, now)`` that
``hailong jobs`` schedules and tests call. Email is off while ``SMTP_HOST`` is
empty: nothing is queued then.
"""


def email_on(settings):
    return bool(settings.get("SMTP_HOST"))


def describe(settings):
    """One line for ``hailong jobs`` at start: where mail goes, or that it is off (never the password)."""
    if not email_on(settings):
        return "email off (SMTP_HOST is empty): alerts show on the pages only; no mail is queued or sent"
    who = f" as {settings['SMTP_USER']}" if settings.get("SMTP_USER") else ""
    return (f"email via {settings['SMTP_HOST']}:{settings['SMTP_PORT']} ({settings['SMTP_SECURITY']}){who},"
            f" from {settings['SMTP_FROM']}")

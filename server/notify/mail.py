"""Queue mail in the outbox and send what is due, so a down mail server delays mail and never loses it.

A mail is a row of ``email_outbox`` until the mail server has accepted it.
``send_due`` claims each due row (compare-and-set, which also puts its next
try off by its backoff) before it talks to the server, then records
``sent_at`` or ``last_error``. A jobs process killed mid-send leaves a claimed
row that is tried again after its backoff; a mail the server accepted but we
could not record may then arrive twice, with the same Message-ID (never zero
times).
"""

import datetime as dt
import email.message
import email.utils
import logging
import smtplib
import ssl

from server.notify import email_on
from server.storage import outbox, timestamp, write_transaction

log = logging.getLogger("hailong.notify")
# Mail sent per run of the step; the rest waits for the next run (a minute).
BATCH = 50
# last_error keeps the start of the server's answer, enough to act on.
ERROR_CHARS = 500


def queue(db, settings, key, kind, recipients, subject, body_text, body_html=None, now=None):
    """Queue a mail for ``recipients`` once per ``key``; returns its id, or None (queued before, nobody to
    send to, or email off). Runs inside the caller's transaction when there is one."""
    recipients = sorted({address.strip() for address in recipients if address and address.strip()})
    if not email_on(settings) or not recipients:
        return None
    with write_transaction(db):
        return outbox.queue(db, key, kind, recipients, subject, body_text, body_html, timestamp(now))


def backoff(settings, attempts):
    """Seconds to wait after try number ``attempts`` (1, 2, ...): doubling from EMAIL_RETRY_SECONDS, capped."""
    first, cap = settings["EMAIL_RETRY_SECONDS"], settings["EMAIL_RETRY_MAX_SECONDS"]
    return min(cap, first * 2 ** min(attempts - 1, 30))


def build_message(row, settings):
    """The ``EmailMessage`` of an outbox row: UTF-8 text, and an HTML alternative when it has one."""
    message = email.message.EmailMessage()
    message["Subject"] = row["subject"]
    message["From"] = settings["SMTP_FROM"]
    message["To"] = ", ".join(row["recipients"])
    message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc))
    domain = email.utils.parseaddr(settings["SMTP_FROM"])[1].rpartition("@")[2] or "localhost"
    # The same id on every try, so a mail that did arrive twice is seen as one.
    message["Message-ID"] = f"<hailong.{row['id']}.{row['created_at'].replace(':', '')}@{domain}>"
    message["X-Hailong-Kind"] = row["kind"]
    message.set_content(row["body_text"], charset="utf-8")
    if row.get("body_html"):
        message.add_alternative(row["body_html"], subtype="html", charset="utf-8")
    return message


def connect(settings):
    """An SMTP connection, secured and signed in as the settings say. Raises OSError or SMTPException."""
    host, port, timeout = settings["SMTP_HOST"], settings["SMTP_PORT"], settings["SMTP_TIMEOUT_SECONDS"]
    if settings["SMTP_SECURITY"] == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if settings["SMTP_SECURITY"] == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings["SMTP_USER"]:
            smtp.login(settings["SMTP_USER"], settings["SMTP_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


def error_text(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text[:ERROR_CHARS]


def send_due(db, settings, now=None, mail_ids=None):
    """Send the outbox's due mail (or only ``mail_ids``); returns ``{"sent": [ids], "failed": {id: error}}``.

    One connection for the run. A refused connection or sign-in fails every
    claimed mail with its error; a mail the server refuses fails alone. Each
    failed mail waits ``backoff`` before its next try.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    result = {"sent": [], "failed": {}}
    if not email_on(settings):
        return result
    claimed = []
    for row in outbox.due(db, timestamp(now), BATCH):
        if mail_ids is not None and row["id"] not in mail_ids:
            continue
        retry_at = timestamp(now + dt.timedelta(seconds=backoff(settings, row["attempts"] + 1)))
        with write_transaction(db):
            if outbox.claim(db, row["id"], timestamp(now), retry_at):
                claimed.append(row)
    if not claimed:
        return result
    try:
        smtp = connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        error = error_text(exc)
        with write_transaction(db):
            for row in claimed:
                outbox.mark_failed(db, row["id"], error)
                result["failed"][row["id"]] = error
        log.warning("mail server unreachable, %d mail wait for the next try: %s", len(claimed), error)
        return result
    try:
        for row in claimed:
            try:
                refused = smtp.send_message(build_message(row, settings))
            except (OSError, smtplib.SMTPException) as exc:
                error = error_text(exc)
                with write_transaction(db):
                    outbox.mark_failed(db, row["id"], error)
                result["failed"][row["id"]] = error
                log.warning("mail %s (%s) not sent, will retry: %s", row["id"], row["kind"], error)
                continue
            # Some recipients refused, others took it: sent, with the refusals noted.
            note = error_text(Exception(f"refused recipients: {refused}")) if refused else None
            with write_transaction(db):
                outbox.mark_sent(db, row["id"], timestamp(), note)
            result["sent"].append(row["id"])
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    if result["sent"]:
        log.info("sent %d mail", len(result["sent"]))
    return result


def send_test(settings, address, now=None):
    """Send a test mail to ``address`` at once, outside the outbox, so the settings are checked while you wait.

    Raises ``OSError`` or ``smtplib.SMTPException`` with the server's answer.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    row = {
        "id": 0, "created_at": timestamp(now), "kind": "test", "recipients": [address],
        "subject": "[hailong] Thư thử nghiệm – Test mail",
        "body_text": ("Máy chủ hailong gửi được thư qua " f"{settings['SMTP_HOST']}:{settings['SMTP_PORT']}.\n"
                      "Cảnh báo và báo cáo tháng sẽ đến địa chỉ này nếu bạn là quản lý đơn vị.\n\n"
                      "The hailong server can send mail through this mail server.\n"
                      "Alerts and monthly reports reach this address if you manage a unit.\n"),
        "body_html": None,
    }
    smtp = connect(settings)
    try:
        refused = smtp.send_message(build_message(row, settings))
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)

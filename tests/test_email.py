"""Mail through the outbox to a real local SMTP server: what arrives, retries, email off, `hailong email test`."""

import datetime as dt

import pytest

from server import settings as server_settings
from server.notify import mail
from server.storage import outbox
from tests.live import hailong

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.timezone.utc)
SUBJECT = "[hailong] Báo cáo tháng 10/2026 – Trung tâm Phục vụ hành chính công tỉnh"


def test_a_queued_mail_arrives_with_its_vietnamese_subject_text_and_html(db, mail_server):
    settings = mail_server.settings()
    mail_id = mail.queue(db, settings, "k1", "report", ["b@example.vn", "a@example.vn"], SUBJECT,
                         "Tỷ lệ hài lòng: 94%", "<p>Tỷ lệ hài lòng: <b>94%</b></p>", now=NOW)
    assert mail.send_due(db, settings, NOW) == {"sent": [mail_id], "failed": {}}
    [(recipients, message)] = mail_server.messages
    assert recipients == ["a@example.vn", "b@example.vn"]
    assert message["Subject"] == SUBJECT
    assert message["From"] == "Hài lòng <hailong@example.gov.vn>"
    assert message.get_body(("plain",)).get_content().strip() == "Tỷ lệ hài lòng: 94%"
    assert message.get_body(("html",)).get_content().strip() == "<p>Tỷ lệ hài lòng: <b>94%</b></p>"
    row = outbox.get(db, mail_id)
    assert row["sent_at"] and row["attempts"] == 1 and row["last_error"] is None


def test_a_mail_is_queued_once_per_key(db, mail_server):
    settings = mail_server.settings()
    assert mail.queue(db, settings, "same", "alert", ["a@example.vn"], "S", "T", now=NOW)
    assert mail.queue(db, settings, "same", "alert", ["a@example.vn"], "S", "T", now=NOW) is None
    mail.send_due(db, settings, NOW)
    mail.send_due(db, settings, NOW + dt.timedelta(hours=2))
    assert len(mail_server.messages) == 1


def test_a_down_mail_server_delays_mail_and_never_loses_it(db, mail_server):
    settings = mail_server.settings(EMAIL_RETRY_SECONDS=60, EMAIL_RETRY_MAX_SECONDS=100)
    mail_id = mail.queue(db, settings, "k", "alert", ["a@example.vn"], "Cảnh báo", "Nội dung", now=NOW)
    mail_server.stop()
    failed = mail.send_due(db, settings, NOW)
    assert list(failed["failed"]) == [mail_id] and failed["sent"] == []
    row = outbox.get(db, mail_id)
    assert row["sent_at"] is None and row["attempts"] == 1 and "Connection refused" in row["last_error"]
    assert row["next_attempt_at"] == "2026-11-27T03:01:00.000Z"
    mail_server.start()
    # Not before its backoff is over,
    assert mail.send_due(db, settings, NOW + dt.timedelta(seconds=59)) == {"sent": [], "failed": {}}
    assert mail_server.messages == []
    # then it goes.
    assert mail.send_due(db, settings, NOW + dt.timedelta(seconds=60))["sent"] == [mail_id]
    [(_, message)] = mail_server.messages
    assert message["Subject"] == "Cảnh báo"
    row = outbox.get(db, mail_id)
    assert row["sent_at"] and row["attempts"] == 2


def test_the_wait_between_tries_doubles_up_to_its_cap():
    settings = {"EMAIL_RETRY_SECONDS": 60, "EMAIL_RETRY_MAX_SECONDS": 3600}
    assert [mail.backoff(settings, n) for n in (1, 2, 3, 6, 7, 50)] == [60, 120, 240, 1920, 3600, 3600]


def test_with_email_off_nothing_is_queued_or_sent(db, mail_server):
    settings = mail_server.settings(SMTP_HOST="")
    assert mail.queue(db, settings, "k", "alert", ["a@example.vn"], "S", "T", now=NOW) is None
    assert outbox.counts(db) == {"pending": 0, "sent": 0, "failing": 0}


def test_hailong_email_test_sends_one_mail(db_path, mail_server):
    done = hailong("--database", str(db_path), "email", "test", "nhung@example.vn", env=mail_server.env())
    assert "Sent a test mail to nhung@example.vn." in done.stdout
    [(recipients, message)] = mail_server.messages
    assert recipients == ["nhung@example.vn"] and message["Subject"] == "[hailong] Thư thử nghiệm – Test mail"


def test_hailong_email_test_says_when_email_is_off_or_the_server_is_down(db_path, mail_server):
    off = hailong("--database", str(db_path), "email", "test", "a@example.vn", check=False)
    assert off.returncode == 1 and "Email is off: set SMTP_HOST" in off.stderr
    mail_server.stop()
    down = hailong("--database", str(db_path), "email", "test", "a@example.vn", env=mail_server.env(), check=False)
    assert down.returncode == 1 and "did not take the test mail: ConnectionRefusedError" in down.stderr


@pytest.mark.parametrize("name, text, message", [
    ("SMTP_SECURITY", "tls", "SMTP_SECURITY 'tls' is not one of starttls, ssl, none."),
    ("SMTP_FROM", "hailong", "SMTP_FROM 'hailong' is not a mail address like 'Hài lòng <hailong@example.gov.vn>'."),
    ("SMTP_PORT", "70000", "SMTP_PORT 70000 is not a port (1 to 65535)."),
    ("REPORT_DAY", "31", "REPORT_DAY 31 must be between 1 and 28 (every month has it)."),
    ("REPORT_HOUR", "24", "REPORT_HOUR 24 must be between 0 and 23."),
    ("ALERT_NEGATIVE_PERCENT", "0", "ALERT_NEGATIVE_PERCENT 0 must be between 1 and 100."),
])
def test_mail_and_alert_settings_that_cannot_work_are_refused_with_why(name, text, message):
    with pytest.raises(server_settings.SettingsError) as caught:
        server_settings.load(environ={f"HAILONG_{name}": text})
    assert str(caught.value) == message


def test_a_recipient_the_server_refuses_does_not_hold_back_the_others(db, mail_server):
    mail_server.refuse = {"gone@example.vn"}
    settings = mail_server.settings()
    mail_id = mail.queue(db, settings, "k", "alert", ["gone@example.vn", "here@example.vn"], "S", "T", now=NOW)
    assert mail.send_due(db, settings, NOW)["sent"] == [mail_id]
    [(recipients, _)] = mail_server.messages
    assert recipients == ["here@example.vn"]
    assert "gone@example.vn" in outbox.get(db, mail_id)["last_error"]


def test_mail_nobody_can_receive_waits_with_the_servers_answer(db, mail_server):
    mail_server.refuse = {"gone@example.vn"}
    settings = mail_server.settings()
    mail_id = mail.queue(db, settings, "k", "alert", ["gone@example.vn"], "S", "T", now=NOW)
    assert list(mail.send_due(db, settings, NOW)["failed"]) == [mail_id]
    row = outbox.get(db, mail_id)
    assert row["sent_at"] is None and "550" in row["last_error"]

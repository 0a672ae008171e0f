"""Alert thresholds: raised once per condition and window, mailed to the unit's managers through the outbox."""

import datetime as dt
import json
import time

import pytest

from devtools.processes import Jobs
from server import storage
from server.notify import alerts, mail
from server.storage import timestamp
from tests.live import enroll_tablet
from tests.people import create_user

pytestmark = pytest.mark.backends

NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.timezone.utc)  # Wednesday 10:00 in Hà Nội


def small_org(db):
    """DN → DN-TT (counter Q1, staff NV001) and DN-BH (counter Q9); managers with addresses on both and above."""
    db.execute("INSERT INTO units (id, code, name, created_at, updated_at) VALUES (1, 'DN', 'Tỉnh', 'x', 'x')")
    db.execute("INSERT INTO units (id, code, name, parent_id, created_at, updated_at)"
               " VALUES (2, 'DN-TT', 'Trung tâm', 1, 'x', 'x'), (3, 'DN-BH', 'Biên Hòa', 1, 'x', 'x')")
    db.execute("INSERT INTO counters (id, code, name, unit_id, created_at, updated_at)"
               " VALUES (1, 'DN-TT-Q1', 'Quầy 1 – Đất đai', 2, 'x', 'x'), (9, 'DN-BH-Q9', 'Quầy 9', 3, 'x', 'x')")
    db.execute("INSERT INTO staff (id, code, full_name, title, unit_id, active, created_at, updated_at)"
               " VALUES (1, 'NV001', 'Nguyễn Thị Hồng Nhung', '', 2, 1, 'x', 'x')")
    for user_id, name, role_unit, address in ((1, "tt", 2, "tt@example.vn"), (2, "bh", 3, "bh@example.vn"),
                                              (3, "dn", 1, "dn@example.vn"), (4, "noaddress", 2, "")):
        db.execute("INSERT INTO users (id, username, full_name, password_hash, active, created_at, updated_at,"
                   " password_changed_at, email) VALUES (?, ?, ?, 'x', 1, 'x', 'x', 'x', ?)",
                   [user_id, name, name, address])
        db.execute("INSERT INTO user_roles (user_id, role, unit_id, created_at) VALUES (?, 'manager', ?, 'x')",
                   [user_id, role_unit])


def add_votes(db, counter_id, ratings, at, scale_version=1):
    """Votes counted at ``at``, stored as the ingest stores them (signatures are not checked here)."""
    from server.storage import batches

    device = f"dev-c{counter_id}"
    db.execute("INSERT INTO devices (id, counter_id, public_key, token_hash, enrolled_at)"
               " VALUES (?, ?, 'k', ?, 'x') ON CONFLICT DO NOTHING", [device, counter_id, device])
    batch = batches.insert_batch(db, "votes", device, timestamp(at), timestamp(at), 0,
                                 {"accepted": len(ratings), "duplicate": 0, "conflict": 0, "rejected": 0})
    for i, rating in enumerate(ratings):
        db.execute(
            "INSERT INTO votes (uuid, device_id, seq, counter_id, staff_id, rating, reasons, local_time,"
            " scale_version, signature, digest, received_at, counted_at, batch_id)"
            " VALUES (?, ?, ?, ?, 1, ?, '[]', ?, ?, 's', 'd', ?, ?, ?)",
            [f"{batch}-{i}", device, batch * 1000 + i, counter_id, rating, timestamp(at), scale_version,
             timestamp(at), timestamp(at), batch],
        )


def test_a_high_negative_share_raises_one_alert_per_counter_and_window(db, mail_server):
    small_org(db)
    settings = mail_server.settings()
    add_votes(db, 1, [1, 1, 2, 2, 4, 4, 4, 3, 3, 3], NOW - dt.timedelta(minutes=30))  # 4 of 10: 40%
    add_votes(db, 9, [1, 1, 1, 1, 1, 1, 1, 1, 1], NOW - dt.timedelta(minutes=30))  # 9 votes: too few
    [alert_id] = alerts.check(db, settings, NOW)
    assert alerts.check(db, settings, NOW + dt.timedelta(minutes=5)) == []
    alert = storage.alerts.get(db, alert_id)
    assert (alert["kind"], alert["counter"], alert["unit"]) == ("negative_share", "DN-TT-Q1", "DN-TT")
    assert {k: alert["detail"][k] for k in ("votes", "negative", "percent")} == {"votes": 10, "negative": 4,
                                                                                 "percent": 40}
    mail.send_due(db, settings, NOW)
    [(recipients, message)] = mail_server.messages
    # The unit's managers and those above it, with an address; not the other unit's.
    assert recipients == ["dn@example.vn", "tt@example.vn"]
    assert message["Subject"] == "[hailong] Cảnh báo: Tỷ lệ không hài lòng cao – DN-TT-Q1"
    text = message.get_body(("plain",)).get_content()
    assert "4/10 lượt đánh giá (40%)" in text and "4 of 10 votes (40%)" in text
    assert "Quầy 1 – Đất đai" in message.get_body(("html",)).get_content()


def test_the_next_window_raises_a_new_alert_when_the_share_stays_high(db, mail_server):
    small_org(db)
    settings = mail_server.settings()
    add_votes(db, 1, [1] * 10, NOW - dt.timedelta(minutes=10))
    assert len(alerts.check(db, settings, NOW)) == 1  # 10:00 in the window 09:00–11:00 (02:00–04:00 UTC)
    assert len(alerts.check(db, settings, NOW + dt.timedelta(minutes=50))) == 0
    add_votes(db, 1, [1] * 10, NOW + dt.timedelta(minutes=65))
    assert len(alerts.check(db, settings, NOW + dt.timedelta(minutes=70))) == 1  # the window from 11:00


def test_each_vote_is_judged_by_its_own_scale_version(db, mail_server):
    small_org(db)
    levels = [{"value": 2, "label_vi": "Được", "label_en": "Fine", "satisfied": True, "weight": 100},
              {"value": 1, "label_vi": "Chưa được", "label_en": "Not fine", "satisfied": False, "weight": 0}]
    db.execute("INSERT INTO rating_scales (version, levels, reasons, created_at) VALUES (2, ?, '[]', 'x')",
               [json.dumps(levels)])
    # Rating 2 is "Bình thường" (not satisfied) in version 1 but satisfied in version 2.
    add_votes(db, 1, [2] * 10, NOW - dt.timedelta(minutes=10), scale_version=2)
    assert alerts.check(db, mail_server.settings(), NOW) == []
    add_votes(db, 1, [2] * 10, NOW - dt.timedelta(minutes=9), scale_version=1)
    assert len(alerts.check(db, mail_server.settings(), NOW)) == 1  # 10 of 20: 50%


def test_a_silent_tablet_raises_one_alert_per_silence(db, mail_server):
    small_org(db)
    db.execute("INSERT INTO devices (id, counter_id, public_key, token_hash, enrolled_at, last_seen_at,"
               " silent_since) VALUES ('dev-quiet', 9, 'k', 'h', 'x', '2026-11-25T02:30:00.000Z',"
               " '2026-11-25T02:46:00.000Z')")
    [alert_id] = alerts.check(db, mail_server.settings(), NOW)
    assert alerts.check(db, mail_server.settings(), NOW) == []
    assert storage.alerts.get(db, alert_id)["device_id"] == "dev-quiet"
    mail.send_due(db, mail_server.settings(), NOW)
    [(recipients, message)] = mail_server.messages
    assert recipients == ["bh@example.vn", "dn@example.vn"]
    assert "dev-quiet" in message.get_body(("plain",)).get_content()


def test_a_new_high_severity_flag_raises_an_alert_and_lower_ones_do_not(db, mail_server):
    small_org(db)
    for key, severity in (("a", "high"), ("b", "medium")):
        db.execute("INSERT INTO flags (key, kind, severity, staff_id, unit_id, test, n_votes, created_at)"
                   " VALUES (?, 'top_excess', ?, 1, 2, 'binomial', 42, 'x')", [key, severity])
    [alert_id] = alerts.check(db, mail_server.settings(), NOW)
    assert alerts.check(db, mail_server.settings(), NOW) == []
    alert = storage.alerts.get(db, alert_id)
    assert (alert["kind"], alert["severity"], alert["staff"]) == ("high_flag", "high", "NV001")


def test_alerts_are_raised_with_email_off_but_no_mail_is_queued(db, mail_server):
    small_org(db)
    add_votes(db, 1, [1] * 10, NOW - dt.timedelta(minutes=10))
    assert len(alerts.check(db, mail_server.settings(SMTP_HOST=""), NOW)) == 1
    assert db.execute("SELECT COUNT(*) FROM email_outbox").fetchone() == (0,)


def test_real_votes_through_the_ingest_reach_the_managers_as_an_alert_mail(live_server, mail_server, tmp_path):
    """A tablet sends 10 votes, 5 of them dissatisfied; `hailong jobs` raises the alert and mails it, and
    (REPORT_DAY 1 from 00:00: always due) mails last month's report too."""
    db = storage.connect(live_server.database)
    create_user(db, "quanly", "manager", "DN-TT")
    db.execute("UPDATE users SET email = 'quanly@example.vn' WHERE username = 'quanly'")
    tablet = enroll_tablet(live_server, tmp_path / "tablet")
    for rating in (1, 1, 2, 2, 1, 4, 4, 3, 4, 3):
        tablet.record_vote("NV001", rating)
    assert tablet.send("votes")[0] == 10
    tablet.close()
    env = {"HAILONG_JOBS_ALERTS_SECONDS": "1", "HAILONG_JOBS_EMAIL_SECONDS": "1", "HAILONG_REPORT_DAY": "1",
           "HAILONG_REPORT_HOUR": "0", **mail_server.env()}
    jobs = Jobs(live_server.database, env=env, log_path=tmp_path / "jobs.log").start()
    try:
        deadline = time.monotonic() + 60
        while not (mails(mail_server, "alert") and mails(mail_server, "report")) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        jobs.stop()
    output = jobs.log_text()
    assert "email via 127.0.0.1" in output, output
    [(recipients, message)] = mails(mail_server, "alert")
    assert recipients == ["quanly@example.vn"]
    assert message["Subject"] == "[hailong] Cảnh báo: Tỷ lệ không hài lòng cao – DN-TT-Q1"
    assert "5/10" in message.get_body(("plain",)).get_content()
    [(recipients, report)] = mails(mail_server, "report")
    assert recipients == ["quanly@example.vn"]
    assert report["Subject"].startswith("[hailong] Báo cáo tháng ")
    assert report["Subject"].endswith(" – Trung tâm Phục vụ hành chính công tỉnh")
    rows = db.execute("SELECT kind, sent_at IS NOT NULL, attempts FROM email_outbox ORDER BY kind").fetchall()
    assert rows == [("alert", 1, 1), ("report", 1, 1)]
    db.close()


def mails(mail_server, kind):
    return [(to, message) for to, message in mail_server.messages if message["X-Hailong-Kind"] == kind]


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_hailong_jobs_says_email_is_off_when_no_mail_server_is_set(db_path, tmp_path):
    jobs = Jobs(db_path, log_path=tmp_path / "jobs.log").start()
    jobs.stop()
    assert "email off (SMTP_HOST is empty)" in jobs.log_text()

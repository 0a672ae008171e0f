"""The monthly unit report: the printable page, `hailong report`, and the mail on REPORT_DAY (once per unit)."""

import datetime as dt

import pytest

from server import storage
from server.commands.reports import queue_monthly_reports
from server.notify import mail
from tests.live import hailong
from tests.people import signed_in

pytestmark = pytest.mark.backends


# 1 November 2026, 07:30 in Hà Nội: REPORT_DAY 1 from REPORT_HOUR 7, October is due.
DUE = dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.timezone.utc)
SUBJECT = "[hailong] Báo cáo tháng 10/2026 – Trung tâm Phục vụ hành chính công tỉnh"


def give_addresses(path):
    db = storage.connect(path)
    db.execute("UPDATE users SET email = 'quanly@example.vn' WHERE username = 'manager'")
    return db


def test_the_monthly_report_reaches_the_units_managers_once_with_its_vietnamese_subject(people, mail_server):
    path, _ = people
    db = give_addresses(path)
    settings = mail_server.settings(DATABASE=str(path), INSTANCE=str(path.parent))
    assert queue_monthly_reports(db, settings, DUE - dt.timedelta(hours=1)) == []  # 06:30: not yet
    assert queue_monthly_reports(db, settings, DUE) == ["DN-TT"]
    assert queue_monthly_reports(db, settings, DUE + dt.timedelta(hours=1)) == []  # once per unit and month
    mail.send_due(db, settings, DUE)
    [(recipients, message)] = mail_server.messages
    assert recipients == ["quanly@example.vn"]
    assert message["Subject"] == SUBJECT
    html = message.get_body(("html",)).get_content()
    assert "Báo cáo tháng 10/2026" in html and "Trung tâm Phục vụ hành chính công tỉnh" in html
    assert "@page" in html  # the print CSS travels with it
    text = message.get_body(("plain",)).get_content()
    assert "Tỷ lệ hài lòng:" in text and "Monthly report 2026-10" in text
    db.close()


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_report_page_prints_in_vietnamese_and_english_for_the_subtree_only(people):
    path, _ = people
    client, _ = signed_in(path, "manager")
    vi = client.get("/reports/DN-TT/2026-10?lang=vi")
    assert vi.status_code == 200
    page = vi.get_data(as_text=True)
    assert "Báo cáo tháng 10/2026" in page and "report.css" in page
    en = client.get("/reports/DN-TT/2026-10?lang=en").get_data(as_text=True)
    assert "Monthly report 10/2026" in en
    assert client.get("/reports/DN-BH/2026-10").status_code == 404
    assert client.get("/reports/DN-TT/2026-13").status_code == 400


@pytest.mark.parametrize("username, status", [("admin", 200), ("hr", 200), ("auditor", 200), ("nobody", 403)])
@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_who_may_open_a_report(people, username, status):
    path, _ = people
    client, _ = signed_in(path, username)
    assert client.get("/reports/DN-TT/2026-10").status_code == status


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_hailong_report_writes_the_same_page_to_a_file(people, tmp_path):
    path, _ = people
    out = tmp_path / "dn-tt.html"
    hailong("--database", str(path), "report", "--unit", "DN-TT", "--period", "2026-10", "-o", str(out))
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "Báo cáo tháng 10/2026" in html and "@media print" in html


def test_the_reports_figures_are_the_scores_of_its_unit_and_month_beside_the_month_before(db):
    """Votes written as the ingest writes them, rolled up; the report adds nothing of its own to the scores."""
    from server.manage import scores
    from server.manage.actor import cli_actor
    from server.manage.reports import unit_report
    from server.scoring import rollups
    from server.settings import DEFAULTS
    from tests import scoring_data

    ids = scoring_data.make_org(db)
    scoring_data.random_votes(db, ids, scoring_data.seeded(9), 400)
    open_flag = scoring_data.flag(db, [scoring_data.add_vote(db, ids, "SA1", "A-Q1", "2026-10-10T03:00:00.000Z")],
                                  staff_id=ids["staff"]["SA1"])
    rollups.roll_up(db, DEFAULTS["TIMEZONE"])
    report = unit_report(db, cli_actor(), "A", "2026-10", DEFAULTS)
    october = scores.period_scores(db, cli_actor(), "2026-10", "A", settings=DEFAULTS)
    september = scores.period_scores(db, cli_actor(), "2026-09", "A", settings=DEFAULTS)
    counted = db.execute(
        "SELECT COUNT(*) FROM votes WHERE unit_id IN (?, ?) AND counted_at >= '2026-09-30T17:00:00.000Z'"
        " AND counted_at < '2026-10-31T17:00:00.000Z' AND flags IS NULL AND id != (SELECT vote_id FROM flag_votes"
        " WHERE flag_id = ?)", [ids["units"]["A"], ids["units"]["A1"], open_flag]).fetchone()[0]
    assert report["total"] == october["total"] and report["total"]["n"] == counted
    assert report["previous_total"] == september["total"]
    assert report["change"]["n"] == october["total"]["n"] - september["total"]["n"]
    assert [row["code"] for row in report["staff"]] == sorted(s for s in scoring_data.STAFF["A"] + scoring_data.STAFF["A1"])
    assert report["flags"] == {"open": 1} and report["votes"]["flagged"] > 0
    assert sum(report["grades"].values()) == len(report["staff"])

"""The monthly unit report: a printable page, and the same template for the file and the mail.

``render_html`` is what the page, ``hailong report`` and the monthly mail all
show; ``render_mail`` adds the subject and a plain-text summary (Vietnamese,
then English) for the mail's text part.
"""

import pathlib

from flask import Blueprint, current_app, render_template
from flask_babel import force_locale

from analysis.grades import DEFAULT_GRADES
from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import reports
from server.web import page_errors

bp = Blueprint("web_reports", __name__)

INSUFFICIENT = ("Chưa đủ dữ liệu", "Insufficient data")


def grade_names(report):
    """``{code: (name_vi, name_en)}`` of the grades the scores used (configurable), else the defaults."""
    grades = report["parameters"].get("grades") or [vars(g) for g in DEFAULT_GRADES]
    names = {g["code"]: (g["name_vi"], g["name_en"]) for g in grades}
    names.setdefault("insufficient", INSUFFICIENT)
    return names


@bp.get("/reports/<unit>/<period>")
@page_requires("scores.read")
def unit_month(unit, period):
    report = reports.unit_report(get_db(), current_actor(), unit, period, current_app.config)
    return render_template("report.html", report=report, grade_names=grade_names(report), standalone=False)


def render_html(app, report, lang="vi"):
    """The report as a whole HTML document (its print CSS inline), in ``lang``; outside any request."""
    with app.test_request_context("/"), force_locale(lang):
        return render_template("report.html", report=report, grade_names=grade_names(report), standalone=True,
                               lang=lang, report_css=_css())


def _css():
    """The page's print CSS, inlined into the file and the mail (which cannot fetch it)."""
    from markupsafe import Markup

    path = pathlib.Path(__file__).parent / "static" / "report.css"
    return Markup(path.read_text(encoding="utf-8"))


def _percent(value):
    return "–" if value is None else f"{100 * value:.1f}%"


def render_mail(app, report):
    """``(subject, text, html)`` of the monthly mail: the Vietnamese page, and a text summary in both languages."""
    year, month = report["period"]["key"].split("-")
    unit, total, before = report["unit"], report["total"], report["previous_total"]
    subject = f"[hailong] Báo cáo tháng {int(month)}/{year} – {unit['name']}"
    interval = f"{_percent(total.get('rate_low'))}–{_percent(total.get('rate_high'))}"
    text = (
        f"Báo cáo tháng {int(month)}/{year}: {unit['code']} – {unit['name']}\n\n"
        f"Lượt đánh giá: {total.get('n', 0)} (tháng trước: {before.get('n', 0)})\n"
        f"Tỷ lệ hài lòng: {_percent(total.get('rate'))} (khoảng tin cậy 95%: {interval};"
        f" tháng trước: {_percent(before.get('rate'))})\n"
        f"Cờ bất thường: {sum(report['flags'].values())}; cảnh báo: {sum(report['alerts'].values())}\n"
        "Báo cáo đầy đủ ở phần HTML của thư này.\n\n"
        f"-- English --\nMonthly report {year}-{month}: {unit['code']} – {unit['name']}\n\n"
        f"Votes: {total.get('n', 0)} (month before: {before.get('n', 0)})\n"
        f"Satisfied: {_percent(total.get('rate'))} (95% interval {interval};"
        f" month before: {_percent(before.get('rate'))})\n"
        f"Flags: {sum(report['flags'].values())}; alerts: {sum(report['alerts'].values())}\n"
    )
    return subject, text, render_html(app, report, "vi")


page_errors(bp)

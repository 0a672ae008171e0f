"""The alert thresholds, checked by ``hailong jobs``: each alert is stored once and mailed to its unit's managers.

Three conditions raise an alert:

- ``negative_share``: at a counter, at least ``ALERT_NEGATIVE_PERCENT`` % of
  at least ``ALERT_NEGATIVE_MIN_VOTES`` votes in the last
  ``ALERT_NEGATIVE_WINDOW_MINUTES`` are not satisfied, each vote judged by
  its own scale version. Windows are aligned to the window's length (00:00,
  02:00, ... UTC for two hours), so a counter gets at most one alert a window
  however often the check runs;
- ``silent_tablet``: a tablet marked silent (once per silence: a tablet that
  is heard from again and falls silent later raises a new one);
- ``high_flag``: a new open anomaly flag of high severity.

The alert and its mail are written in one transaction; the mail's outbox key
is the alert's, so a retried check queues nothing twice.
"""

import datetime as dt

from markupsafe import escape

from device_client.protocol import format_utc
from server.localtime import local_time
from server.notify import mail
from server.storage import alerts, outbox, write_transaction

KINDS = ("negative_share", "silent_tablet", "high_flag")


def _window(now, minutes):
    seconds = minutes * 60
    start = int(now.timestamp()) // seconds * seconds
    return dt.datetime.fromtimestamp(start, dt.timezone.utc)


def _satisfied_levels(scales):
    """``{(version, rating): satisfied}`` from each version's own levels."""
    return {(version, level["value"]): bool(level.get("satisfied", not level.get("negative", False)))
            for version, levels in scales.items() for level in levels}


def negative_share_candidates(db, settings, now):
    """Alerts the negative-share threshold raises now (not stored yet)."""
    minutes = settings["ALERT_NEGATIVE_WINDOW_MINUTES"]
    since = now - dt.timedelta(minutes=minutes)
    satisfied = _satisfied_levels(alerts.scales(db))
    tallies = {}
    for counter_id, version, rating, n in alerts.counter_votes_since(db, format_utc(since)):
        total, negative = tallies.get(counter_id, (0, 0))
        tallies[counter_id] = (total + n, negative + (0 if satisfied.get((version, rating), True) else n))
    crossed = {counter_id: (total, negative) for counter_id, (total, negative) in tallies.items()
               if total >= settings["ALERT_NEGATIVE_MIN_VOTES"]
               and negative * 100 >= settings["ALERT_NEGATIVE_PERCENT"] * total}
    window = format_utc(_window(now, minutes))
    counters = alerts.counters_by_id(db, crossed)
    return [{
        "key": f"negative_share:{counter_id}:{window}", "kind": "negative_share", "severity": "medium",
        "unit_id": counters[counter_id]["unit_id"], "counter_id": counter_id,
        "detail": {"votes": total, "negative": negative, "percent": round(100 * negative / total),
                   "threshold_percent": settings["ALERT_NEGATIVE_PERCENT"], "window_minutes": minutes,
                   "from": format_utc(since), "to": format_utc(now), "counter": counters[counter_id]["code"],
                   "counter_name": counters[counter_id]["name"], "unit": counters[counter_id]["unit"]},
    } for counter_id, (total, negative) in sorted(crossed.items()) if counter_id in counters]


def silent_tablet_candidates(db):
    return [{
        "key": f"silent_tablet:{row['id']}:{row['silent_since']}", "kind": "silent_tablet", "severity": "medium",
        "unit_id": row["unit_id"], "counter_id": row["counter_id"], "device_id": row["id"],
        "detail": {"device": row["id"], "silent_since": row["silent_since"], "last_seen_at": row["last_seen_at"],
                   "counter": row["counter"], "counter_name": row["counter_name"], "unit": row["unit"]},
    } for row in alerts.silent_devices(db)]


def high_flag_candidates(db):
    return [{
        "key": f"high_flag:{row['id']}", "kind": "high_flag", "severity": "high", "unit_id": row["unit_id"],
        "counter_id": row["counter_id"], "staff_id": row["staff_id"], "device_id": row["device_id"],
        "flag_id": row["id"],
        "detail": {"flag": row["id"], "flag_kind": row["kind"], "test": row["test"], "p_value": row["p_value"],
                   "q_value": row["q_value"], "votes": row["n_votes"], "staff": row["staff"],
                   "staff_name": row["staff_name"], "unit": row["unit"], "first_at": row["first_at"],
                   "last_at": row["last_at"]},
    } for row in alerts.high_flags_without_alert(db)]


def check(db, settings, now=None):
    """Raise the alerts whose condition holds now, each mailed to its unit's managers; returns the new ids."""
    now = now or dt.datetime.now(dt.timezone.utc)
    candidates = [*negative_share_candidates(db, settings, now), *silent_tablet_candidates(db),
                  *high_flag_candidates(db)]
    raised = []
    for alert in candidates:
        alert["created_at"] = format_utc(now)
        with write_transaction(db):
            alert_id = alerts.insert(db, alert)
            if alert_id is None:
                continue
            raised.append(alert_id)
            if alert["unit_id"] is not None:
                subject, text, html = message(alerts.get(db, alert_id), settings)
                mail.queue(db, settings, f"alert:{alert['key']}", "alert",
                           outbox.managers_emails(db, alert["unit_id"]), subject, text, html, now)
    return raised


# --- The mail -------------------------------------------------------------------------------
# Vietnamese first, English below: the jobs process has no visitor to pick a language for.


def describe(alert, timezone):
    """``(vietnamese, english)``: one sentence each saying what happened."""
    d = alert["detail"]
    if alert["kind"] == "negative_share":
        where = f"{d['counter']} – {d['counter_name']} ({d['unit']})"
        return (f"Tại quầy {where}, {d['negative']}/{d['votes']} lượt đánh giá ({d['percent']}%) trong"
                f" {d['window_minutes']} phút đến {local_time(d['to'], timezone)} là không hài lòng"
                f" (ngưỡng {d['threshold_percent']}%).",
                f"At counter {where}, {d['negative']} of {d['votes']} votes ({d['percent']}%) in the"
                f" {d['window_minutes']} minutes to {local_time(d['to'], timezone)} were not satisfied"
                f" (threshold {d['threshold_percent']}%).")
    if alert["kind"] == "silent_tablet":
        where = f"{d['counter']} – {d['counter_name']} ({d['unit']})"
        return (f"Máy tính bảng {d['device']} tại quầy {where} không liên lạc từ"
                f" {local_time(d['last_seen_at'], timezone)} trong giờ làm việc.",
                f"Tablet {d['device']} at counter {where} has not been heard from since"
                f" {local_time(d['last_seen_at'], timezone)} during opening hours.")
    who = f"{d['staff']} – {d['staff_name']}" if d.get("staff") else (d.get("unit") or "")
    return (f"Cờ bất thường mức cao ({d['flag_kind']}, kiểm định {d['test']}) về {who}: {d['votes']} lượt"
            " đánh giá cần bộ phận nhân sự xem xét.",
            f"A high-severity anomaly flag ({d['flag_kind']}, test {d['test']}) about {who}: {d['votes']}"
            " votes for HR to review.")


SUBJECTS = {
    "negative_share": ("Tỷ lệ không hài lòng cao", "High share of dissatisfied votes"),
    "silent_tablet": ("Máy tính bảng im lặng", "Silent tablet"),
    "high_flag": ("Cờ bất thường mức cao", "High-severity flag"),
}


def message(alert, settings):
    """``(subject, text, html)`` of an alert's mail."""
    vi, en = describe(alert, settings["TIMEZONE"])
    title_vi, title_en = SUBJECTS[alert["kind"]]
    place = alert.get("counter") or alert.get("unit") or ""
    subject = f"[hailong] Cảnh báo: {title_vi} – {place}"
    link = f"{settings['PUBLIC_URL'].rstrip('/')}/alerts/{alert['id']}" if settings.get("PUBLIC_URL") else ""
    text = (f"{title_vi}\n\n{vi}\n\n"
            + (f"Xem và xác nhận đã biết: {link}\n\n" if link else "")
            + f"-- English --\n{title_en}\n\n{en}\n"
            + (f"See and acknowledge it: {link}\n" if link else ""))
    html = (f'<!doctype html><html lang="vi"><meta charset="utf-8"><body>'
            f"<h2>{escape(title_vi)}</h2><p>{escape(vi)}</p>"
            + (f'<p><a href="{escape(link)}">Xem và xác nhận đã biết</a></p>' if link else "")
            + f'<hr><div lang="en"><h3>{escape(title_en)}</h3><p>{escape(en)}</p></div></body></html>')
    return subject, text, html

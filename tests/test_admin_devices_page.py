"""The devices page: each tablet by its counter and unit, its state in words and colour, when it was
last heard, and how many votes it still holds with how old that report is."""

import datetime as dt
import re

import pytest

from server import storage
from server.storage import devices as device_storage
from tests.admin_live import people_server, signed_in  # noqa: F401


def ago(**delta):
    return storage.timestamp(storage.now_utc() - dt.timedelta(**delta))


@pytest.fixture(scope="module")
def tablets(people_server):
    """In scope: one online whose queue report is older than its last batch, one late. Outside: one silent."""
    devices = people_server.facts["devices"]
    db = storage.connect(people_server.database)
    with storage.write_transaction(db):
        device_storage.record_heartbeat(db, devices["in"], {"queue_depth": 7, "app_version": "1.2.0"}, -850)
        device_storage.record_heartbeat(db, devices["in2"], {"queue_depth": 0, "app_version": "1.2.0"}, 40)
        db.execute("UPDATE devices SET last_heartbeat_at = ?, last_seen_at = ? WHERE id = ?",
                   [ago(minutes=3), ago(seconds=20), devices["in"]])
        db.execute("UPDATE devices SET last_heartbeat_at = ?, last_seen_at = ? WHERE id = ?",
                   [ago(minutes=10), ago(minutes=10), devices["in2"]])
        db.execute("UPDATE devices SET silent_since = ?, last_seen_at = ? WHERE id = ?",
                   [ago(minutes=1), ago(hours=2), devices["out"]])
    db.close()
    return devices


def row_texts(page, device_id):
    row = page.locator(f"#devices tr[data-device='{device_id}']")
    return {cell.get_attribute("data-label"): " ".join(cell.text_content().split())
            for cell in row.locator("td[data-label]").all()}


def test_a_tablet_shows_its_counter_unit_state_last_contact_and_queue_age(people_server, tablets, browser):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/devices")
        online = row_texts(page, tablets["in"])
        assert online["Quầy"] == "DN-TT-Q1 Quầy 1 – Đất đai"
        assert online["Đơn vị"] == "DN-TT Trung tâm Phục vụ hành chính công tỉnh"
        assert online["Trạng thái"] == "trực tuyến"
        assert re.fullmatch(r"2\d giây trước", online["Liên lạc gần nhất"])
        assert online["Phiếu chưa gửi"] == "7, báo cáo 3 phút trước"
        late = row_texts(page, tablets["in2"])
        assert (late["Trạng thái"], late["Liên lạc gần nhất"]) == ("chậm liên lạc", "10 phút trước")
        assert late["Phiếu chưa gửi"] == "0, báo cáo 10 phút trước"
        silent = row_texts(page, tablets["out"])
        assert (silent["Trạng thái"], silent["Liên lạc gần nhất"]) == ("mất liên lạc", "2 giờ trước")


def test_the_four_states_have_distinct_styles(people_server, tablets, browser):
    with signed_in(browser, people_server) as page:
        page.goto(people_server.url + "/admin/devices")
        styles = page.evaluate("""() => ['online', 'late', 'silent', 'revoked'].map(state => {
            const s = getComputedStyle(document.querySelector('.legend .state-' + state));
            return [s.color, s.backgroundColor, s.textDecorationLine].join(' ');
        })""")
        assert len(set(styles)) == 4


def test_a_tablets_counter_and_unit_link_to_their_pages(people_server, tablets, browser):
    with signed_in(browser, people_server, username="manager", locale="en-US") as page:
        page.goto(people_server.url + "/admin/devices")
        assert page.locator(f"tr[data-device='{tablets['out']}']").count() == 0  # outside DN-TT
        page.locator(f"tr[data-device='{tablets['in']}'] a", has_text="DN-TT-Q1").click()
        page.wait_for_url(people_server.url + "/admin/counters/DN-TT-Q1")

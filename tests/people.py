"""A small organisation with one user per role, for the admin API and page tests.

DN (province) → DN-TT (centre: in scope) and DN-BH (city office: out of
scope for the people whose roles are on DN-TT). Each user gets a personal
API token; each side gets an enrolled device, a vote, a photo and an audit entry.
"""

import json
import pathlib
import shutil

from migrations import migrations
from server import create_app, orgimport, storage
from server.manage import account as service
from server.manage.actor import cli_actor
from server.manage import staff as staff_service
from server.manage import users
from server.storage import accounts
from server.storage import calendar as calendar_storage
from server.storage import staff as staff_storage
from server.storage import devices as device_storage
from tests.images import image_bytes
from tests.live import ORG_CSV

from argon2 import PasswordHasher

from server.manage import passwords

# The production hasher costs ~0.6 s a hash on a small machine; these tests
# hash and verify hundreds of times, so they use a cheap argon2id instead
# (hashes carry their own parameters, so verification is unchanged).
# test_auth.py checks the production parameters themselves.
PRODUCTION_HASHER = passwords._hasher
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PASSWORD = "correct horse battery staple"
CONFIG = {"PASSWORD_MIN_LENGTH": 10, "API_TOKEN_DEFAULT_DAYS": 90, "API_TOKEN_MAX_DAYS": 365}
# username → (role, unit) ; "nobody" signs in but holds no role; "staff" is
# the civil servant NV001's own account (the staff role, no unit).
PEOPLE = {
    "admin": ("admin", None),
    "manager": ("manager", "DN-TT"),
    "hr": ("hr", "DN-TT"),
    "auditor": ("auditor", "DN-TT"),
    "nobody": (None, None),
    "staff": ("staff", None),
}
STAFF_LINKS = {"staff": "NV001"}
PNG = image_bytes("PNG", (30, 40))
# Another picture, for uploads that must change the stored photo (it is
# re-encoded, so bytes appended to PNG would be dropped and change nothing).
NEW_PNG = image_bytes("PNG", (32, 40), color=(200, 120, 40))


def create_user(db, username, role, unit, password=PASSWORD):
    roles = [{"role": role, "unit": unit}] if role else []
    data = {"username": username, "password": password, "full_name": username.title(), "roles": roles,
            "staff": STAFF_LINKS.get(username)}
    return users.create_user(db, cli_actor(), data, CONFIG)


def token_for(db, username, days=None):
    """A token made as ``hailong user token`` makes it (people make theirs with their password)."""
    return service.create_token(db, cli_actor(), "tests", days, CONFIG, username=username)[0]


def enroll_fake_device(db, counter_code, key="k"):
    """A device row as enrollment makes it (the key is never used to verify here)."""
    counter = storage.org.counter_by_code(db, counter_code)
    code = f"FAKE{counter['id']}{key}"
    device_storage.insert_enrollment_code(db, code, counter["id"], storage.timestamp(), storage.timestamp())
    row = device_storage.find_enrollment_code(db, code)
    device_id, _token = device_storage.enroll_device(db, row, key * 43, "1.0-test")
    return device_id


def insert_vote(db, device_id, counter_code, staff_code, uuid, seq=1):
    """A stored vote, written through the storage layer's own inserts (its signature is never checked)."""
    from server.storage import batches, votes

    counter = storage.org.counter_by_code(db, counter_code)
    staff_id = staff_storage.by_codes(db, [staff_code])[staff_code]["id"]
    now = storage.timestamp()
    with storage.write_transaction(db):
        batch = batches.insert_batch(db, "votes", device_id, now, now, 0,
                                     {"accepted": 1, "duplicate": 0, "conflict": 0, "rejected": 0})
        votes.insert_votes(db, [{
            "uuid": uuid, "device_id": device_id, "seq": seq, "counter_id": counter["id"], "staff_id": staff_id,
            "rating": 4, "reasons": [], "ticket": None, "local_time": now, "scale_version": 1,
            "signature": "sig", "digest": "digest", "received_at": now, "clock_offset_ms": 0,
            "batch_id": batch, "flags": [], "unit_id": staff_storage.detail(db, staff_code)["unit_id"],
            "counter_unit_id": counter["unit_id"], "counted_at": now, "time_corrected": 0,
        }])
        batches.set_ack(db, "votes", device_id, seq, batch)


def add_alert(db, counter_code):
    """A negative-share alert at ``counter_code``, as ``hailong jobs`` raises it (server/notify/alerts.py)."""
    from server.storage import alerts

    counter = storage.org.counter_detail(db, counter_code)
    return alerts.insert(db, {
        "key": f"negative_share:{counter['id']}:test", "kind": "negative_share", "severity": "medium",
        "unit_id": counter["unit_id"], "counter_id": counter["id"], "created_at": storage.timestamp(),
        "detail": {"votes": 10, "negative": 5, "percent": 50, "threshold_percent": 40, "window_minutes": 120,
                   "from": storage.timestamp(), "to": storage.timestamp(), "counter": counter_code,
                   "counter_name": counter["name"], "unit": counter["unit"]},
    })


def build(path, tmp_path):
    """Migrate, import the org, make the people and their objects; returns the facts."""
    db = storage.connect(path)
    migrations.apply(db)
    org_file = tmp_path / "org.csv"
    org_file.write_text(ORG_CSV, encoding="utf-8")
    orgimport.import_file(db, str(org_file))
    facts = {"tokens": {}, "devices": {}}
    for username, (role, unit) in PEOPLE.items():
        create_user(db, username, role, unit)
        facts["tokens"][username] = token_for(db, username)
    facts["devices"]["in"] = enroll_fake_device(db, "DN-TT-Q1", "a")
    facts["devices"]["in2"] = enroll_fake_device(db, "DN-TT-Q2", "c")
    facts["devices"]["out"] = enroll_fake_device(db, "DN-BH-Q1", "b")
    insert_vote(db, facts["devices"]["in"], "DN-TT-Q1", "NV001", "00000000-0000-7000-8000-00000000000a")
    insert_vote(db, facts["devices"]["out"], "DN-BH-Q1", "NV004", "00000000-0000-7000-8000-00000000000b")
    staff_service.create_staff(db, cli_actor(), {"code": "NV006", "full_name": "Đỗ Out Of Scope",
                                                 "title": "", "unit": "DN-BH"})
    for code in ("NV001", "NV004"):
        staff_service.set_photo(db, cli_actor(), code, PNG, 10_000)
    calendar_storage.save_holiday(db, "2026-09-02", "Quốc khánh", "National Day", storage.timestamp())
    with storage.write_transaction(db):  # DN-BH has opening hours of its own; DN-TT inherits the default
        calendar_storage.set_hours(db, storage.org.unit_by_code(db, "DN-BH")["id"], {5: [("07:00", "11:30")]})
    facts["alerts"] = {side: add_alert(db, counter) for side, counter in (("in", "DN-TT-Q1"), ("out", "DN-BH-Q1"))}
    from tests.flagged import flag_both, object_to_both  # issue 9: flags and objections, NV001's (in), NV004's (out)

    db.close()
    facts["flags"] = flag_both(path)
    facts["objections"] = object_to_both(path, facts["flags"])
    db = storage.connect(path)
    facts.update(score_periods(db))
    facts["hr_role_id"] = accounts.roles_of(db, accounts.user_by_username(db, "hr")["id"])[0]["id"]
    facts["token_ids"] = {username: accounts.tokens_of(db, accounts.user_by_username(db, username)["id"])[0]["id"]
                          for username in PEOPLE}
    facts["checkpoints"] = publish_checkpoints(db, tmp_path)
    db.close()
    return facts


def publish_checkpoints(db, folder):
    """The log's key and two checkpoints of the votes tree (issue 10); their ids."""
    from server.ledger import keys, log
    from server.settings import DEFAULTS

    keys.ensure_key(str(folder))
    settings = {**DEFAULTS, "INSTANCE": str(folder)}
    return [log.publish(db, settings, "votes", "schedule")["id"] for _ in range(2)]


def this_and_last_month(moment=None):
    """The local month now (``2026-11``) and the one before, in the default TIMEZONE."""
    from server.scoring.days import local_day

    today = local_day(storage.timestamp(moment), "Asia/Ho_Chi_Minh")
    year, month = int(today[:4]), int(today[5:7])
    last = f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
    return today[:7], last


def score_periods(db):
    """Rollups of the votes above, and last month closed for the whole organisation (scores, periods)."""
    from server.manage import periods
    from server.scoring import rollups

    rollups.roll_up(db, "Asia/Ho_Chi_Minh")
    month, last_month = this_and_last_month()
    periods.close_period(db, cli_actor(), last_month)
    return {"month": month, "last_month": last_month}


def copy_db(template, target):
    """A copy of the template whose tablets were last seen now, as when it was built.

    The template is made once per test session (per pytest-xdist worker), and a test may run more than
    ``LATE_AFTER_HEARTBEATS`` heartbeats (150 s by default) after it on a loaded machine: its tablets would
    read as late instead of online.
    """
    shutil.copy(template, target)
    db = storage.connect(target)
    db.execute("UPDATE devices SET last_seen_at = ? WHERE last_seen_at IS NOT NULL", [storage.timestamp()])
    db.close()
    return target


TEMPLATE_POSTGRESQL = "hailong_people"


def build_postgresql(cluster, migrated, folder):
    """``build`` into a PostgreSQL database made from ``migrated`` (a template): ``(template name, facts)``.

    Made once per session, like the SQLite template file; each test gets a
    database copied from it (``copy_postgresql``), which PostgreSQL does
    file by file, far faster than hashing the passwords again.
    """
    from tests.postgres import PostgresTarget

    url = cluster.create_database(TEMPLATE_POSTGRESQL, template=migrated)
    facts = build(PostgresTarget(url, folder, TEMPLATE_POSTGRESQL), folder)
    return TEMPLATE_POSTGRESQL, facts


def copy_postgresql(cluster, template, folder):
    """A fresh database for one test made from the people template database."""
    from tests.postgres import new_database

    return new_database(cluster, template, folder)


def snapshot(db):
    """Everything a request could change, minus bookkeeping (token last use, sessions)."""
    tables = {
        "units": "SELECT code, name, parent_id, active FROM units ORDER BY id",
        "counters": "SELECT code, name, unit_id, active FROM counters ORDER BY id",
        "staff": "SELECT code, full_name, title, unit_id, active, pin_hash FROM staff ORDER BY id",
        "photos": "SELECT staff_id, sha256 FROM staff_photos ORDER BY staff_id",
        "devices": "SELECT id, status FROM devices ORDER BY id",
        "codes": "SELECT COUNT(*) FROM enrollment_codes",
        "users": "SELECT username, full_name, active, password_hash, email, staff_id FROM users ORDER BY id",
        "roles": "SELECT user_id, role, unit_id FROM user_roles ORDER BY id",
        "tokens": "SELECT id, revoked_at FROM api_tokens ORDER BY id",
        "hours": "SELECT unit_id, weekday, opens, closes FROM opening_hours ORDER BY id",
        "holidays": "SELECT day, name_vi, name_en FROM holidays ORDER BY day",
        "scales": "SELECT version, levels, reasons FROM rating_scales ORDER BY version",
        "alerts": "SELECT id, acknowledged_at FROM alerts ORDER BY id",
        "periods": "SELECT kind, key, unit_id FROM periods ORDER BY id",
        "flags": "SELECT id, status, reviewed_by, review_reason FROM flags ORDER BY id",
        "dirty": "SELECT day, staff_id FROM rollup_dirty ORDER BY day, staff_id",
        "objections": "SELECT id, status, answer FROM objections ORDER BY id",
        "checkpoints": "SELECT id, tree, size FROM log_checkpoints ORDER BY id",
    }
    return json.dumps({name: db.execute(sql).fetchall() for name, sql in tables.items()})


def app_for(path, **settings):
    folder = str(path.parent if hasattr(path, "parent") else pathlib.Path(path).parent)
    return create_app({"TESTING": True, "DATABASE": str(path), "INSTANCE": folder, "DEVELOPMENT": True, **settings})


def csrf_token(client, path="/login"):
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, username, password=PASSWORD, address="127.0.0.1"):
    """Post the sign-in form (with its CSRF token) as a browser would; returns the response."""
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address}, headers={"Accept-Language": "en"})


def signed_in(path, username="admin", **settings):
    """A test client signed in as ``username``, and the header its API writes need (the CSRF token)."""
    client = app_for(path, **settings).test_client()
    assert sign_in(client, username).status_code == 302, f"{username} could not sign in"
    return client, {"X-CSRFToken": csrf_token(client, "/account")}

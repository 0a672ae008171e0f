"""The log pages without a browser: who may open each, in and out of scope, and what a refusal changes.

Written out here as the spec, independently of server/manage/actor.py, like
tests/test_score_pages.py does for the evaluation pages: checkpoints are read
(``log.read``) and published (``log.checkpoint``) by admins and auditors; a vote
is verified (``votes.read``) by admins and by auditors within their units. The
people database (tests/people.py) has one vote in DN-TT (in the roles' scope)
and one in DN-BH (out of it).
"""

import re

import pytest

from server import storage
from server.ledger import keys, log
from server.settings import DEFAULTS
from tests.people import app_for, csrf_token, insert_vote, sign_in

ROLES = ("anonymous", "nobody", "admin", "manager", "hr", "auditor", "staff")
AUDITORS = {"admin", "auditor"}
VOTE_IN, VOTE_OUT = "00000000-0000-7000-8000-00000000000a", "00000000-0000-7000-8000-00000000000b"


@pytest.fixture
def checkpointed(people):
    """The people database with its log's key and one signed checkpoint of each tree."""
    path, facts = people
    keys.ensure_key(str(path.parent))
    db = storage.connect(path)
    settings = {**DEFAULTS, "INSTANCE": str(path.parent)}
    facts = {**facts, "checkpoints": {tree: log.publish(db, settings, tree, "manual")["id"]
                                      for tree in ("votes", "sessions", "audit")}}
    db.close()
    return path, facts


def pages(facts):
    """(name, method, path in scope, path out of scope or None, roles allowed)."""
    votes = facts["checkpoints"]["votes"]
    return [
        ("checkpoints", "GET", "/log", None, AUDITORS),
        ("tree", "GET", "/log/audit/checkpoints", None, AUDITORS),
        ("checkpoint", "GET", f"/log/votes/checkpoints/{votes}", None, AUDITORS),
        ("checkpoint text", "GET", f"/log/votes/checkpoints/{votes}.txt", None, AUDITORS),
        ("publish", "POST", "/log/votes/checkpoints", None, AUDITORS),
        ("verify form", "GET", "/log/verify", None, AUDITORS),
        ("verify vote", "GET", f"/log/verify?vote={VOTE_IN}", f"/log/verify?vote={VOTE_OUT}", AUDITORS),
    ]


CASES = [(name, role, scope) for name in
         ("checkpoints", "tree", "checkpoint", "checkpoint text", "publish", "verify form", "verify vote")
         for role in ROLES for scope in ("in", "out")]


def client_as(path, role):
    client = app_for(path).test_client()
    if role != "anonymous":
        assert sign_in(client, role).status_code == 302
    return client


def counts(path):
    db = storage.connect(path)
    try:
        return {"denied": db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'denied'").fetchone()[0],
                "checkpoints": db.execute("SELECT COUNT(*) FROM log_checkpoints").fetchone()[0]}
    finally:
        db.close()


@pytest.mark.parametrize("name,role,scope", CASES)
def test_each_log_page_opens_for_its_roles_only_and_no_vote_out_of_scope(checkpointed, name, role, scope):
    path, facts = checkpointed
    _, method, path_in, path_out, allowed = next(p for p in pages(facts) if p[0] == name)
    url = path_out if scope == "out" and path_out else path_in
    client = client_as(path, role)
    data = {"csrf_token": csrf_token(client, "/account")} if method == "POST" and role != "anonymous" else {}
    before = counts(path)
    response = client.open(url, method=method, data=data, headers={"Accept-Language": "vi"})
    after = counts(path)
    text = response.get_data(as_text=True)

    if role == "anonymous":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert after == before
        return
    if role not in allowed:
        assert response.status_code == 403
        assert after == {**before, "denied": before["denied"] + 1}, "a 403 is audited, and changes nothing else"
        return
    assert after["denied"] == before["denied"]
    if scope == "out" and path_out and role != "admin":
        assert response.status_code == 404, text[:300]
        assert "NV004" not in text and "DN-BH" not in text
        return
    if method == "POST":
        assert response.status_code == 302 and after["checkpoints"] == before["checkpoints"] + 1
        return
    assert response.status_code == 200, text[:500]
    if name == "verify vote":
        assert ("NV004" if scope == "out" else "NV001") in text


def test_a_checkpoint_of_another_tree_or_an_unknown_tree_is_a_plain_404(checkpointed):
    path, facts = checkpointed
    client = client_as(path, "auditor")
    votes = facts["checkpoints"]["votes"]
    assert client.get(f"/log/audit/checkpoints/{votes}").status_code == 404
    assert client.get(f"/log/votes/checkpoints/{votes + 1000}").status_code == 404
    assert client.get("/log/users/checkpoints").status_code == 404


def test_publishing_without_the_forms_csrf_token_is_refused_and_signs_nothing(checkpointed):
    path, _ = checkpointed
    client = client_as(path, "admin")
    before = counts(path)
    assert client.post("/log/votes/checkpoints").status_code == 400
    assert counts(path) == before


def test_the_checkpoint_file_is_the_stored_note_byte_for_byte(checkpointed):
    path, facts = checkpointed
    client = client_as(path, "auditor")
    response = client.get(f"/log/audit/checkpoints/{facts['checkpoints']['audit']}.txt")
    db = storage.connect(path)
    note = db.execute("SELECT note FROM log_checkpoints WHERE id = ?", [facts["checkpoints"]["audit"]]).fetchone()[0]
    db.close()
    assert response.get_data() == note.encode("utf-8")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"hailong-audit-")


def test_a_vote_says_when_it_is_not_in_the_log_yet_then_not_in_a_checkpoint_yet(checkpointed):
    path, facts = checkpointed
    uuid = "00000000-0000-7000-8000-0000000000c1"
    db = storage.connect(path)
    insert_vote(db, facts["devices"]["in"], "DN-TT-Q1", "NV001", uuid, seq=2)
    client = client_as(path, "auditor")
    page = client.get(f"/log/verify?vote={uuid}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "This vote is not in the log yet" in page and 'id="proof-hashes"' not in page
    log.catch_up(db, "votes")
    db.close()
    page = client.get(f"/log/verify?vote={uuid}", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Chưa có điểm kiểm chứng đã ký nào bao gồm lượt đánh giá này" in page and 'id="leaf-index"' in page


def test_a_vote_changed_in_the_database_after_it_joined_the_log_shows_as_changed(checkpointed):
    path, _ = checkpointed
    db = storage.connect(path)
    db.execute("UPDATE votes SET rating = 1 WHERE uuid = ?", [VOTE_IN])
    db.commit()
    db.close()
    page = client_as(path, "admin").get(f"/log/verify?vote={VOTE_IN}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "it was changed after it joined the log" in text and "state-online" not in text


def test_checkpoints_are_listed_newest_first_fifty_a_page(checkpointed):
    path, facts = checkpointed
    db = storage.connect(path)
    settings = {**DEFAULTS, "INSTANCE": str(path.parent)}
    ids = [facts["checkpoints"]["sessions"]] + [log.publish(db, settings, "sessions", "schedule")["id"]
                                                for _ in range(54)]
    db.close()
    client = client_as(path, "auditor")
    first = client.get("/log/sessions/checkpoints", headers={"Accept-Language": "en"}).get_data(as_text=True)
    shown = [int(n) for n in re.findall(r'data-checkpoint="(\d+)"', first)]
    assert shown == ids[::-1][:50]
    older = re.search(r'href="([^"]+)" id="older"', first).group(1).replace("&amp;", "&")
    rest = client.get(older, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert [int(n) for n in re.findall(r'data-checkpoint="(\d+)"', rest)] == ids[::-1][50:]
    assert 'id="older"' not in rest and "the jobs process, on schedule" in rest

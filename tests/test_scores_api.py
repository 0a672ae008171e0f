"""The scores and periods API on a real server: votes from real tablets (one tapped too soon after the
last, so marked rapid_repeat), rolled up by the job step, read over HTTP by HR and closed by HR."""

import pytest
import requests

from server import jobs, storage
from server.settings import DEFAULTS
from tests.live import enroll_tablet
from tests.people import create_user, this_and_last_month, token_for

pytestmark = pytest.mark.backends


@pytest.fixture
def world(live_server, tmp_path):
    tablet = enroll_tablet(live_server, tmp_path / "tablet", "DN-TT-Q1")
    tablet.refresh_config()
    db = storage.connect(live_server.database)
    create_user(db, "hr", "hr", "DN-TT")
    create_user(db, "manager", "manager", "DN-TT")
    tokens = {name: token_for(db, name) for name in ("hr", "manager")}
    yield live_server, tablet, db, tokens
    tablet.close()
    db.close()


def call(server, token, method, path, **kw):
    return requests.request(method, server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)


def test_hr_reads_the_month_with_and_without_flagged_votes_over_http(world):
    server, tablet, db, tokens = world
    for rating in (4, 4, 3, 1):
        tablet.record_vote("NV001", rating)
    tablet.record_vote("NV002", 4)
    tablet.record_vote("NV002", 4, min_interval=3600)  # too soon after the last: marked, kept, flagged
    sent, answer = tablet.send("votes")
    assert sent and all(r["status"] == "accepted" for r in answer["results"]), answer
    assert jobs.roll_up_votes(db, dict(DEFAULTS), None)["votes"] == 6
    month, _ = this_and_last_month()

    headline = call(server, tokens["hr"], "GET", f"/api/v1/scores?period={month}").json()
    rows = {row["code"]: row for row in headline["staff"]}
    assert (rows["NV001"]["n"], rows["NV001"]["satisfied"], rows["NV001"]["grade"]) == (4, 3, "insufficient")
    assert (rows["NV002"]["n"], rows["NV002"]["flagged"]) == (1, 1)
    assert headline["total"]["n"] == 5 and headline["votes"] == {"counted": 5, "flagged": 1, "excluded": 0}
    assert headline["unit"]["code"] == "DN-TT" and "DN-BH" not in str(headline)
    with_flagged = call(server, tokens["hr"], "GET", f"/api/v1/scores?period={month}&include_flagged=true").json()
    assert next(r for r in with_flagged["staff"] if r["code"] == "NV002")["n"] == 2

    person = call(server, tokens["manager"], "GET", f"/api/v1/staff/NV001/scores?period={month}").json()
    assert person["score"]["n"] == 4 and sum(map(sum, person["heatmap"])) == 4
    assert call(server, tokens["hr"], "GET", f"/api/v1/staff/NV004/scores?period={month}").status_code == 404
    bad = call(server, tokens["hr"], "GET", "/api/v1/scores?period=2026-13")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"period"}


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_hr_closes_last_month_and_reads_its_revision(world):
    server, _tablet, _db, tokens = world
    _, last = this_and_last_month()
    closed = call(server, tokens["hr"], "POST", "/api/v1/periods", json={"period": last})
    assert closed.status_code == 201, closed.text
    assert (closed.json()["unit"], closed.json()["revision"]) == ("DN-TT", 1)
    assert call(server, tokens["hr"], "POST", "/api/v1/periods", json={"period": last}).status_code == 409
    assert call(server, tokens["hr"], "POST", "/api/v1/periods", json={"period": last, "unit": "DN-BH"}).status_code == 404
    assert call(server, tokens["manager"], "POST", "/api/v1/periods", json={"period": last}).status_code == 403
    listed = call(server, tokens["manager"], "GET", "/api/v1/periods").json()["periods"]
    assert [(p["key"], p["unit"], p["revision"]) for p in listed] == [(last, "DN-TT", 1)]
    first = call(server, tokens["manager"], "GET", f"/api/v1/periods/{last}/revisions/1").json()
    assert first["period"]["closed"] is True and first["period"]["reason"] == "closed"
    scores = call(server, tokens["manager"], "GET", f"/api/v1/scores?period={last}").json()
    assert scores["period"]["revision"] == 1
    assert call(server, tokens["hr"], "GET", f"/api/v1/periods/{last}/revisions/2").status_code == 404


@pytest.mark.backends("sqlite")  # its SQL runs on both in this module's other tests
def test_the_openapi_document_describes_the_scores_endpoints(world):
    server, *_ = world
    spec = requests.get(server.url + "/api/openapi.json", timeout=30).json()
    for path in ("/api/v1/scores", "/api/v1/staff/{code}/scores", "/api/v1/periods",
                 "/api/v1/periods/{key}/revisions/{revision}"):
        assert path in spec["paths"], path
    assert "Scores" in spec["components"]["schemas"] and "SubjectScore" in spec["components"]["schemas"]
    assert spec["paths"]["/api/v1/periods"]["post"]["responses"]["201"]

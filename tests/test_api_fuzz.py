"""schemathesis against the real server's /api/openapi.json: every operation, as each role.

A real ``hailong serve`` over the people database (tests/people.py) is
called over HTTP with each role's personal API token (admin, a manager, HR
and an auditor on DN-TT, and NV001's own staff account). For every
operation of the document schemathesis sends the examples, the boundary
cases of its coverage phase and generated requests, valid ones and ones
the document forbids (negative mode), and checks each answer:

- never a 5xx;
- only the status codes, media types and bodies the document describes
  (an undocumented status or field is either a server bug or a wrong
  description: fix whichever is wrong, never the check);
- data the document forbids is refused (``negative_data_rejection``).

Path parameters are drawn most of the time from the seeded objects (codes,
ids, usernames), so requests reach the code behind an object, in and out of
the caller's scope, and not only the 404 of an unknown one.

The tablets' operations (tag ``device``) are fuzzed as a tablet enrolled
through the API with a real key. Writes that end a caller (a revoked token,
a role taken away) are undone after each success (tests/api_fuzz_world.py),
and a last check makes sure every operation answered the admin and the
tablet past authentication.

``FUZZ_EXAMPLES`` sets how many generated requests each operation gets per
role, everyone with the coverage phase (``make fuzz``: 100); ``FUZZ_REPORT=1``
with ``-s`` prints the statuses each role got from each operation.
"""

import os

import pytest
import requests
import schemathesis
from schemathesis.specs.openapi.checks import allow_header_conformance

from devtools.processes import Server
from server.ledger import keys
from tests.api_fuzz_world import ROLES, Callers, enroll_tablet
from tests.flagged import IN_VOTE, OUT_VOTE
from tests.people import PEOPLE, copy_db, this_and_last_month

LONG = "FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
ROLE_EXAMPLES = 4
# Statuses of a write that may have ended a caller's credentials (a token, a role, an active account).
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


# What each path parameter names in the people database (tests/people.py), drawn 80% of the time so that
# requests reach the code behind an object, in the callers' scope (DN-TT) and out of it (DN-BH); the rest
# is schemathesis's own (mostly unknown: a 404). Ids are the small integers the build gives its rows.
# Device ids are made at random when the database is built: the names below stand for them (see ``call``).
IDS = list(range(1, 9))
SEEDED = {
    "code": ["DN", "DN-TT", "DN-BH", "DN-TT-Q1", "DN-TT-Q2", "DN-BH-Q1", "NV001", "NV002", "NV004", "NV005",
             "NV006"],
    "username": list(PEOPLE),
    "device_id": ["device-in", "device-in2", "device-out"],
    "tree": ["votes", "audit"],
    "day": ["2026-09-02", "2026-01-01"],
    "key": list(this_and_last_month()),
    "revision": [1, 2],
    "version": [1, 2],
    "vote_uuid": [IN_VOTE, OUT_VOTE],
    "units": ["DN", "DN-TT", "DN-BH"],
    "counters": ["DN-TT-Q1", "DN-TT-Q2", "DN-BH-Q1"],
    "staff": ["NV001", "NV002", "NV004", "NV006"],
    "periods": list(this_and_last_month()),
    **{name: IDS for name in ("alert_id", "flag_id", "objection_id", "token_id", "role_id", "assignment_id",
                              "checkpoint_id")},
}

# Body fields that name an object, drawn from the same (a new unit's parent, a counter's unit, a staff
# member to link or assign, a role's unit), so that creates and changes get past "no such unit" to be
# stored.
BODY = {"unit": "units", "parent": "units", "counter": "counters", "staff": "staff", "period": "periods",
        "roles[*].unit": "units"}


@pytest.fixture(scope="module")
def fuzz_world(people_template, tmp_path_factory):
    template, facts = people_template
    folder = tmp_path_factory.mktemp("api_fuzz")
    database = copy_db(template, folder / "people.db")
    keys.ensure_key(str(folder))
    # The device's rate limit is raised: the fuzzer sends batches far faster than a tablet may, and a 429
    # would stop them before the code under test (the limit has its own tests, test_sync_loop.py and others).
    settings = {"DEVELOPMENT": "true", "INSTANCE": str(folder), "DEVICE_RATE_PER_MINUTE": "100000",
                "DEVICE_RATE_BURST": "100000"}
    server = Server(database, settings=settings, log_path=folder / "serve.log").start()
    callers = Callers(database, facts["tokens"])
    callers.tokens["device"] = enroll_tablet(server.url, database)
    devices = {f"device-{side}": device_id for side, device_id in facts["devices"].items()}
    try:
        yield server, callers, devices
    finally:
        server.stop()


def documented_api():
    """The document the server serves, built as the server builds it, for pytest to collect an item per
    operation (test_the_fuzzed_document_is_the_served_one checks it is the same)."""
    from server import create_app
    from server.openapi import build_spec

    return build_spec(create_app({"TESTING": True, "DATABASE": ":memory:", "DEVELOPMENT": True}))


DOCUMENT = documented_api()
# Statuses each (role, operation) got, for test_the_callers_stayed_who_they_are.
ANSWERS = {}
# Checks left out of one operation, each with why.
EXCLUDED = {
    # OPTIONS /api/v1/staff/import lists GET, PATCH and DELETE too, and rightly: "import" is a valid staff
    # code, so those methods reach /staff/{code} with code "import". The check reads the literal path as
    # the document's /staff/import alone.
    ("POST", "/api/v1/staff/import"): [allow_header_conformance],
}


def config(examples, coverage=True):
    """schemathesis's settings: ``examples`` generated requests per operation, and the coverage phase
    (every boundary and every way to break each field, valid and not) when ``coverage``."""
    return schemathesis.Config.from_dict({
        # The callers' tokens are sent by the test, not generated: a generated Authorization header only
        # tells again that a bad token gets a 401, which ``ignored_auth`` checks on every operation.
        # make test sends the same requests every run (deterministic): a new finding there would be a flaky
        # failure in someone else's change; make fuzz draws new ones each time, which is where they are found.
        "generation": {"max-examples": examples, "database": "none", "with-security-parameters": False,
                       "deterministic": not LONG},
        "phases": {"coverage": {"enabled": coverage}},
        "checks": {
            # Off, on purpose: it calls every 400 to a request the document allows a failure, but a document
            # cannot say everything the server rightly refuses: a period's last day before its first, a
            # staff code in a filter that names nobody, a file that is not an image. The gaps it found that
            # a document can say were written into it (text without control characters, 64-bit integers).
            "positive_data_acceptance": {"enabled": False},
            # schemathesis's own list, plus 414: gunicorn refusing a request line past its limit (a query of
            # a hundred repeated parameters) refuses the junk as surely as a 400.
            "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "406", "409",
                                                              "414", "415", "422", "428", "429", "5xx"]},
        },
        "dictionaries": {name: {"values": values} for name, values in SEEDED.items()},
        "parameters": {**{f"path.{name}": {"dictionary": name, "probability": 0.8} for name in SEEDED},
                       **{f"body.{field}": {"dictionary": name, "probability": 0.8} for field, name in BODY.items()}},
    })


# The admin reaches every operation's code: it gets the coverage phase and the most requests. The other
# roles share that validation code, so in make test they get fewer requests, enough for their scopes and
# refusals; FUZZ_EXAMPLES (make fuzz) gives everyone the whole treatment.
admin_schema = schemathesis.openapi.from_dict(DOCUMENT, config=config(EXAMPLES)).exclude(tag="device")
roles_schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=config(EXAMPLES if LONG else ROLE_EXAMPLES, coverage=LONG)).exclude(tag="device")
# The tablets' endpoints (docs/protocol.md), as a really enrolled tablet.
device_schema = schemathesis.openapi.from_dict(DOCUMENT, config=config(EXAMPLES)).include(tag="device")


def test_the_fuzzed_document_is_the_served_one(fuzz_world):
    server, _, _ = fuzz_world
    assert requests.get(server.url + "/api/openapi.json", timeout=30).json() == DOCUMENT


def call(case, world, role):
    """Send the case as ``role`` and check the answer; put the callers back after a write that worked."""
    server, callers, devices = world
    if case.path_parameters and case.path_parameters.get("device_id") in devices:
        case.path_parameters["device_id"] = devices[case.path_parameters["device_id"]]
    excluded = EXCLUDED.get((case.operation.method.upper(), case.operation.path), [])
    headers = callers.headers(role)
    response = case.call(base_url=server.url, headers=headers)
    ANSWERS.setdefault((role, case.operation.label), set()).add(response.status_code)
    if case.method.upper() in WRITES and response.status_code < 300:
        callers.repair()
    # As call_and_validate does; the checks that send requests of their own (ignored_auth, methods the
    # document does not list) send them to the same server with the same headers.
    case.validate_response(response, headers=headers, excluded_checks=excluded,
                           transport_kwargs={"base_url": server.url, "headers": dict(headers)})


@admin_schema.parametrize()
def test_every_operation_answers_the_admin_as_documented(case, fuzz_world):
    call(case, fuzz_world, "admin")


@roles_schema.parametrize()
@pytest.mark.parametrize("role", [role for role in ROLES if role != "admin"])
def test_every_operation_answers_each_role_as_documented(case, fuzz_world, role):
    call(case, fuzz_world, role)


@device_schema.parametrize()
def test_every_device_operation_answers_the_tablet_as_documented(case, fuzz_world):
    call(case, fuzz_world, "device")


def test_the_callers_stayed_who_they_are(fuzz_world):
    """Every operation the admin and the tablet were fuzzed on answered them past authentication at least
    once: a revoked token or a lost role mid-run (which ``repair`` undoes) would have made the rest of
    the run a string of 401s that pass every check."""
    if os.environ.get("FUZZ_REPORT"):
        for (role, label), statuses in sorted(ANSWERS.items()):
            print(f"{role:8} {label:60} {' '.join(map(str, sorted(statuses)))}")
    fuzzed = {(role, label) for role, label in ANSWERS if role in ("admin", "device")}
    stuck = sorted(key for key in fuzzed if ANSWERS[key] <= {401})
    assert not stuck, stuck


def test_the_tablet_is_still_enrolled_after_the_fuzzing(fuzz_world):
    """Nothing above revokes it (the admin's revocations name the people database's own devices), so
    every device request above was the tablet's, not a 401."""
    server, callers, _ = fuzz_world
    answer = requests.get(server.url + "/api/v1/device/config", headers=callers.headers("device"), timeout=30)
    assert answer.status_code == 200, answer.text


def test_days_at_the_calendars_edges_are_filters_too():
    """Found by the fuzzer: an export "to 9999-12-31" (or from 0001-01-01, east of UTC) was a 500."""
    from server.scoring.days import EARLIEST_UTC, LATEST_UTC, day_bounds_utc

    assert day_bounds_utc("0001-01-01", "9999-12-31", "Asia/Ho_Chi_Minh") == (EARLIEST_UTC, LATEST_UTC)
    assert day_bounds_utc("0999-06-01", "0999-06-01", "UTC") == (EARLIEST_UTC, EARLIEST_UTC)
    assert day_bounds_utc("2026-09-02", "2026-09-02", "Asia/Ho_Chi_Minh") == (
        "2026-09-01T17:00:00.000Z", "2026-09-02T17:00:00.000Z")

"""Arbitrary JSON at every device endpoint and every admin write endpoint: never a 5xx, never a change on a 4xx.

Hypothesis makes the bodies and query strings: any JSON, biased towards
what breaks servers (64-bit edges, lone surrogates, control and
text-direction characters, NaN, deep nesting) and towards what gets far
(the endpoint's own field names, codes that exist, votes signed by the
tablet's real key). The endpoints are read from the app's URL map, so a new
one is covered without a change here. Each request goes through the Flask
test client over a real SQLite file; the whole database is compared before
and after every answer in the 400s.
"""

import json
import tempfile
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from device_client import protocol
from server.sync.schemas import BatchSchema, EnrollSchema, HeartbeatSchema, SessionBatchSchema
from tests.hostile import signed_vote, world as make_world
from tests.people import app_for

EXAMPLES = 50  # per endpoint: about 25 s for the file, most of it SQLite's fsync
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Characters that have broken servers: controls, text-direction overrides, surrogates, a BOM, an astral one.
NASTY = "\x00\x1b\x7f\x85\u202e\u2066\u2069\ud800\udfff\ufeff\U0001f600\n"
text = st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(NASTY)), max_size=20)
numbers = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**53, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**70]),
    st.floats(),  # NaN and infinities too: json.dumps writes them, the server must refuse them
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=12)


class Raw(str):
    """A body sent as it is: JSON too deep for Python's own encoder to write."""


deep = st.sampled_from([31, 32, 33, 100_000]).map(lambda n: Raw("[" * n + "]" * n))

# What each field name usually holds, so that many requests get past validation into the actions:
# codes and people that exist, new codes, times, small numbers.
TIME = "2026-11-27T09:20:00.000+07:00"
new_code = st.from_regex(r"[A-Z]{2}[0-9]{1,4}", fullmatch=True)
a_name = st.one_of(st.sampled_from(["Quầy 9 – Hộ tịch", "Trung tâm", "Nguyễn Văn An", "x" * 200, "x" * 201]),
                   st.builds("Tên {}".format, st.sampled_from(NASTY)), text)
count = st.one_of(st.integers(min_value=-1, max_value=10), st.sampled_from([2**63, 2**70, -(2**63) - 1]))
PLAUSIBLE = {
    "code": st.one_of(new_code, st.sampled_from(["DN", "DN-TT", "DN-TT-Q1", "NV001"])),
    "name": a_name, "full_name": a_name, "title": a_name,
    "parent": st.sampled_from(["DN", "DN-TT", "DN-BH", None]), "unit": st.sampled_from(["DN-TT", "DN-BH", "DN"]),
    "counter": st.sampled_from(["DN-TT-Q1", "DN-BH-Q1"]), "active": st.booleans(),
    "pin": st.from_regex(r"[0-9]{3,9}", fullmatch=True),
    "username": st.from_regex(r"[a-z][a-z0-9]{1,8}", fullmatch=True),
    "password": st.sampled_from(["a long enough password", "short"]),
    "new_password": st.sampled_from(["a long enough password", "short"]),
    "current_password": st.sampled_from(["wrong", ""]),  # the right one would end the admin's token
    "role": st.sampled_from(["admin", "manager", "hr", "auditor"]),
    "roles": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["hr", "auditor"]),
                                             "unit": st.sampled_from(["DN-TT", "DN-BH"])}), max_size=2),
    "days": count, "ttl_minutes": count, "queue_depth": count, "last_seq": count, "dead_letters": count,
    "device_time": st.just(TIME), "oldest_unsent_at": st.sampled_from([TIME, None]),
    "app_version": st.sampled_from(["0.1.0", "x" * 65]),
    "limit": count, "after_id": count, "before_id": count,
    "staff": st.sampled_from(["NV001", "NV004", "NV006"]),
    "valid_from": st.sampled_from(["2026-11-27", "2026-02-30", "9999-12-31"]),
    "valid_to": st.sampled_from(["2026-12-31", "2026-11-01", None]),
}


def weighted(*choices):
    """One of the ``(weight, strategy)`` choices, as often as its weight says (one_of's are about even)."""
    def pick(n):
        for weight, strategy in choices:
            if n < weight:
                return strategy
            n -= weight

    return st.integers(0, sum(weight for weight, _ in choices) - 1).flatmap(pick)


def value_for(name):
    return weighted((9, PLAUSIBLE.get(name, json_values)), (1, json_values))


def objects(fields):
    """Objects of the endpoint's own fields (``{name: required}``): the required ones mostly there,
    values mostly plausible, now and then a stranger."""
    some = st.fixed_dictionaries({}, optional={name: value_for(name) for name in fields})
    most = st.fixed_dictionaries({name: value_for(name) for name, required in fields.items() if required},
                                 optional={name: value_for(name) for name, required in fields.items()
                                           if not required})
    stranger = st.builds(lambda known, other: {**known, **other}, most, st.dictionaries(text, json_values,
                                                                                         min_size=1, max_size=2))
    return weighted((6, most), (1, some), (1, stranger))


def load_fields(schema):
    """``{name: required}`` of what a schema loads."""
    return {name: field.required for name, field in schema().fields.items() if not field.dump_only}


def bodies(fields, items=None):
    """Any JSON, the endpoint's own objects, and for a batch an envelope of ``items``."""
    if items is None:
        return weighted((1, json_values), (1, deep), (8, objects(fields)))
    key = next(name for name in fields if name != "device_time")
    batches = st.builds(lambda envelope, got: {**envelope, key: got},
                        objects({"device_time": True}), st.lists(items, max_size=4))
    return weighted((1, json_values), (1, deep), (1, objects(fields)), (7, batches))


queries = st.dictionaries(st.one_of(st.sampled_from(["after_id", "before_id", "limit", "actor", "apply"]), text),
                          st.one_of(st.sampled_from(["0", "1", "-1", "99999999999999999999", "1e3", ""]), text),
                          max_size=3)


def queries_for(openapi):
    """Query strings: the endpoint's own parameters, mostly plausible, or anything."""
    if not openapi.get("query"):
        return queries
    own = objects(load_fields(openapi["query"])).map(lambda got: {k: str(v) for k, v in got.items()})
    return weighted((1, queries), (3, own))


def ask(world, method, path, headers, body, query):
    """Send the request; a 5xx fails the test, and so does a change made by a 4xx."""
    before = world.snapshot()
    data = body if isinstance(body, Raw) else json.dumps(body)
    query_string = urllib.parse.urlencode(query, errors="surrogatepass")
    response = world.client.open(path, method=method, headers=headers, data=data, query_string=query_string,
                                 content_type="application/json")
    assert response.status_code < 500, (method, path, data[:2000], query, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert world.snapshot() == before, (method, path, data[:2000], query, response.status_code)
        assert set(response.json["error"]) == {"code", "message", "fields"}
    return response


# --- Device endpoints, with a real device token ----------------------------------------


@pytest.fixture(scope="module")
def tablet_world(people_template, tmp_path_factory):
    return make_world(people_template, tmp_path_factory.mktemp("tablet"), DEVICE_RATE_BURST=1_000_000)


def vote_items(world):
    """Votes signed by the tablet's key, some with one field set to anything: they get past the signature."""
    def mutated(seq, name, value, change):
        vote = signed_vote(world, seq)
        if change:
            vote[name] = value
            if name != "signature":
                vote["signature"] = protocol.sign(world.key, protocol.canonical_vote_bytes(vote))
        return vote

    names = st.sampled_from(protocol.VOTE_FIELDS + ("signature",))
    signed = st.builds(mutated, st.integers(1, 50), names, json_values, st.booleans())
    return weighted((8, signed), (1, objects(dict.fromkeys(protocol.VOTE_FIELDS + ("signature",), True))),
                    (1, json_values))


def event_items(world):
    """Staff events signed by the tablet's key, some with one field set to anything."""
    def mutated(seq, name, value, change):
        event = {"id": protocol.uuid7(), "device": world.device_id, "seq": seq, "counter": "DN-TT-Q1",
                 "staff": "NV001", "event": "sign_in", "reason": None, "local_time": protocol.format_local_time()}
        if change:
            event[name] = value
        event["signature"] = protocol.sign(world.key, protocol.canonical_session_bytes(event))
        return event

    names = st.sampled_from(protocol.SESSION_FIELDS)
    signed = st.builds(mutated, st.integers(1, 50), names, json_values, st.booleans())
    return weighted((8, signed), (1, objects(dict.fromkeys(protocol.SESSION_FIELDS + ("signature",), True))),
                    (1, json_values))


DEVICE_CALLS = {
    "devices.enroll": lambda w: bodies(load_fields(EnrollSchema)),
    "devices.heartbeat": lambda w: bodies(load_fields(HeartbeatSchema)),
    "devices.post_votes": lambda w: bodies(load_fields(BatchSchema), vote_items(w)),
    "devices.post_sessions": lambda w: bodies(load_fields(SessionBatchSchema), event_items(w)),
    "devices.config": lambda w: json_values,
    "devices.staff_photo": lambda w: json_values,
}


def test_every_device_endpoint_is_in_this_list(tablet_world):
    endpoints = {rule.endpoint for rule in tablet_world.app.url_map.iter_rules()
                 if rule.endpoint.startswith("devices.")}
    assert endpoints == set(DEVICE_CALLS)


def url(rule, values):
    """The rule's path with each <parameter> (any text: quoted) from ``values``."""
    path = rule.rule
    for name in rule.arguments:
        value = urllib.parse.quote(str(values[name]), safe="")
        path = path.replace(f"<{name}>", value).replace(f"<int:{name}>", value)
    return path


def path_values(good):
    """Each URL parameter: now the one that exists, now anything."""
    url_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
    return st.fixed_dictionaries({name: st.one_of(st.just(value), url_text, st.sampled_from([0, 2**64]))
                                  for name, value in good.items()})


@pytest.mark.parametrize("endpoint", sorted(DEVICE_CALLS))
def test_a_device_endpoint_never_fails_on_arbitrary_json(tablet_world, endpoint):
    rule = next(r for r in tablet_world.app.url_map.iter_rules() if r.endpoint == endpoint)
    method = next(iter(rule.methods - {"HEAD", "OPTIONS"}))

    @SETTINGS
    @given(body=DEVICE_CALLS[endpoint](tablet_world), query=queries, where=path_values({"code": "NV001"}))
    def check(body, query, where):
        ask(tablet_world, method, url(rule, where), tablet_world.device(), body, query)

    check()


# --- Admin write endpoints (and the queries the admin API reads), with an admin token ------


@pytest.fixture(scope="module")
def admin_world(people_template, tmp_path_factory):
    return make_world(people_template, tmp_path_factory.mktemp("admin"))


def admin_rules(app):
    """``(rule, method, openapi)`` for every admin API write, and every read that takes a query string."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin_"):
            continue
        openapi = app.view_functions[rule.endpoint].openapi
        writes = rule.methods - {"HEAD", "OPTIONS", "GET"}
        for method in sorted(writes or ({"GET"} if openapi.get("query") else set())):
            yield rule, method, openapi


def good_path_values(world, rule):
    """URL parameters that exist, so a request gets as far as its body."""
    code = {"units": "DN-TT", "counters": "DN-TT-Q1", "staff": "NV002"}.get(rule.rule.split("/")[3], "")
    username = "hr" if "role_id" in rule.arguments else "nobody"
    known = {"code": code, "username": username, "role_id": world.facts["hr_role_id"], "token_id": 2,
             "device_id": world.facts["devices"]["in"]}
    return {name: known.get(name, 1) for name in rule.arguments}  # a later <int:..._id>: the first row


def test_the_admin_api_has_the_write_endpoints_this_test_expects(admin_world):
    found = {rule.rule for rule, _, _ in admin_rules(admin_world.app)}
    assert {"/api/v1/units", "/api/v1/staff/<code>/pin", "/api/v1/users/<username>/roles/<int:role_id>",
            "/api/v1/enrollment-codes", "/api/v1/audit", "/api/v1/me/password"} <= found
    assert len(found) >= 20


def admin_cases():
    """(path, method) of each rule, from an app built only to read its URL map (it opens no database)."""
    app = app_for(tempfile.gettempdir() + "/hailong-routes-only.db")
    return sorted((rule.rule, method) for rule, method, _ in admin_rules(app))


@pytest.mark.parametrize("path, method", admin_cases())
def test_an_admin_write_endpoint_never_fails_on_arbitrary_json(admin_world, path, method):
    rule, _, openapi = next(case for case in admin_rules(admin_world.app) if (case[0].rule, case[1]) == (path, method))
    fields = load_fields(openapi["body"]) if openapi.get("body") else {"file": False, "photo": False}

    @SETTINGS
    @given(body=bodies(fields), query=queries_for(openapi), where=path_values(good_path_values(admin_world, rule)))
    def check(body, query, where):
        ask(admin_world, method, url(rule, where), admin_world.admin(), body, query)

    check()

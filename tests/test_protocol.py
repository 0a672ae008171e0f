"""The canonical form and signatures, against the test vectors in docs/protocol.md."""

import json
import pathlib
import re
import uuid

import pytest

from device_client import protocol

DOC = pathlib.Path(__file__).parent.parent / "docs" / "protocol.md"
KEY = protocol.signing_key_from_seed(bytes(range(32)))


def documented_vectors():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- vectors:.*?-->\s*```json\n(.*?)```", text, re.S).group(1)
    return json.loads(block)


def test_the_documented_public_key_is_the_seed_key():
    assert protocol.public_key_b64(KEY) == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="


@pytest.mark.parametrize("vector", documented_vectors(), ids=lambda v: str(v["vote"]["seq"]))
def test_canonical_bytes_digest_and_signature_match_the_documented_vector(vector):
    canonical = protocol.canonical_vote_bytes(vector["vote"])
    if "canonical_hex" in vector:
        assert canonical.hex() == vector["canonical_hex"]
    else:
        assert canonical == vector["canonical_text"].encode("utf-8")
    assert protocol.vote_digest(canonical) == vector["digest"]
    assert protocol.sign(KEY, canonical) == vector["signature"]
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    assert verifier.verify(canonical, vector["signature"])


def test_the_canonical_form_ignores_the_signature_field_and_key_order():
    vote = documented_vectors()[0]["vote"]
    shuffled = dict(reversed(list(vote.items())), signature="anything")
    assert protocol.canonical_vote_bytes(shuffled) == protocol.canonical_vote_bytes(vote)


def test_changing_any_field_breaks_the_signature():
    vector = documented_vectors()[0]
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    for field, value in [("rating", 4), ("seq", 41), ("staff", "NV002"), ("reasons", ["attitude"]),
                         ("ticket", None), ("local_time", "2026-11-27T09:15:02.124+07:00")]:
        altered = {**vector["vote"], field: value}
        assert not verifier.verify(protocol.canonical_vote_bytes(altered), vector["signature"]), field


def test_a_mark_is_signed_with_the_vote_and_cannot_be_added_or_removed():
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    plain = documented_vectors()[1]
    marked_bytes = protocol.canonical_vote_bytes({**plain["vote"], "marks": ["rapid_repeat"]})
    assert marked_bytes != protocol.canonical_vote_bytes(plain["vote"])
    assert not verifier.verify(marked_bytes, plain["signature"])  # added in transit
    marked = next(v for v in documented_vectors() if "marks" in v["vote"])
    unmarked = {key: value for key, value in marked["vote"].items() if key != "marks"}
    assert not verifier.verify(protocol.canonical_vote_bytes(unmarked), marked["signature"])  # removed


def test_the_vectors_without_marks_are_the_ones_from_before_marks():
    # Signatures made by tablets older than marks must keep verifying: these digests never change.
    unmarked = [v["digest"] for v in documented_vectors() if "marks" not in v["vote"]]
    assert unmarked == ["ae3965c96effbc341beee9a107c3b4c40f511192670d551de7c6e441bbead33b",
                        "2b7edfec09d82f52d48d170dd38bc04224c878deb046976dcfe25af59cc58eef",
                        "f39a0374aa480a7488960519f37f5d41cf8e26ee0013234377eed6a507f20012"]
    assert any("marks" in v["vote"] for v in documented_vectors())


def test_a_vote_missing_a_field_has_no_canonical_form():
    vote = dict(documented_vectors()[1]["vote"])
    del vote["ticket"]
    with pytest.raises(KeyError):
        protocol.canonical_vote_bytes(vote)


def test_garbage_signatures_do_not_verify_and_do_not_raise():
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    for bad in ["", "not base64!", "AAAA", protocol.b64(b"x" * 64), "é"]:
        assert verifier.verify(b"message", bad) is False


def test_the_enrollment_proof_matches_the_documented_one():
    proof = protocol.sign(KEY, protocol.enroll_proof_bytes("WJ6EP-ZYGHP", protocol.public_key_b64(KEY)))
    assert proof in DOC.read_text(encoding="utf-8")


def test_uuid7_is_version_7_and_sorts_by_time():
    first = protocol.uuid7(now_ms=1_700_000_000_000)
    second = protocol.uuid7(now_ms=1_700_000_000_001)
    assert uuid.UUID(first).version == 7
    assert uuid.UUID(first).variant == uuid.RFC_4122
    assert first < second
    assert len({protocol.uuid7() for _ in range(1000)}) == 1000


def test_protocol_times_carry_an_offset():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", protocol.format_local_time())
    assert protocol.format_utc().endswith("Z")
    with pytest.raises(ValueError):
        protocol.parse_time("2026-11-27T09:15:02")


def documented_session_vectors():
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- session vectors:.*?-->\s*```json\n(.*?)```", text, re.S).group(1)
    return json.loads(block)


@pytest.mark.parametrize("vector", documented_session_vectors(), ids=lambda v: v["event"]["event"])
def test_session_events_match_their_documented_vector(vector):
    canonical = protocol.canonical_session_bytes(vector["event"])
    assert canonical == vector["canonical_text"].encode("utf-8")
    assert protocol.vote_digest(canonical) == vector["digest"]
    assert protocol.sign(KEY, canonical) == vector["signature"]


def test_a_vote_signature_never_passes_for_a_session_event():
    event = documented_session_vectors()[0]["event"]
    verifier = protocol.Verifier(protocol.public_key_b64(KEY))
    signature = documented_session_vectors()[0]["signature"]
    assert verifier.verify(protocol.canonical_session_bytes(event), signature)
    assert not verifier.verify(protocol.canonical_session_bytes(event)[len(b"hailong-session-v1\n"):], signature)


@pytest.mark.parametrize(
    "link, server, code",
    [
        ("http://10.0.0.5:8000/enroll?code=WJ6EP-ZYGHP", "http://10.0.0.5:8000", "WJ6EP-ZYGHP"),
        ("https://dvc.example.gov.vn/hailong/enroll?code=WJ6EP-ZYGHP", "https://dvc.example.gov.vn/hailong",
         "WJ6EP-ZYGHP"),
        ("http://10.0.0.5:8000/enroll/?code=wj6epzyghp&lang=vi\n", "http://10.0.0.5:8000", "wj6epzyghp"),
    ],
)
def test_an_enrollment_link_gives_the_server_and_the_code(link, server, code):
    assert protocol.parse_enroll_link(link) == (server, code)
    assert protocol.parse_enroll_link(protocol.enroll_link(server + "/", code)) == (server, code)


@pytest.mark.parametrize("link", ["WJ6EP-ZYGHP", "ftp://10.0.0.5/enroll?code=A1", "http:///enroll?code=A1",
                                  "http://10.0.0.5/login?code=A1", "http://10.0.0.5/enrollment?code=A1",
                                  "http://10.0.0.5/enroll", "http://10.0.0.5/enroll?code=A1&code=B2",
                                  "http://10.0.0.5/enroll?code=A1%0A"])
def test_a_link_that_is_not_an_enrollment_link_says_so(link):
    with pytest.raises(ValueError, match="enrollment"):
        protocol.parse_enroll_link(link)

"""The auditor's log pages in headless Chromium against a real ``hailong serve``, with votes from real tablets.

Two tablets are enrolled (DN-TT-Q1, in the auditor's scope; DN-BH-Q1, outside
it), sign votes and send them over HTTP. Then, in Vietnamese and English: a
checkpoint published from the page shows its signed note as text, as a file
and as a QR code, with the key ``hailong keys show`` prints; one vote is
verified (signature, leaf, inclusion proof against the checkpoint); a vote of
another unit is refused to the unit's auditor; a vote sent after the last
checkpoint says so; the pages fit a phone, print cleanly and break no
Content-Security-Policy rule.
"""

import base64
import json
import re
import urllib.parse
import zipfile

import pytest

from devtools.processes import Server
from server import storage
from server.ledger import checkpoints as notes
from server.ledger import merkle
from server.manage.devices import qr_svg
from tests.admin_live import PHONE, signed_in
from tests.live import enroll_tablet, hailong
from tests.people import copy_db
from tests.test_admin_phone import check_fits_a_phone
from tests.test_score_pages_browser import violations, watch


@pytest.fixture(scope="module")
def logged(people_template, tmp_path_factory):
    """A server whose tablets have sent votes: three at DN-TT-Q1 (NV001), two at DN-BH-Q1 (NV004)."""
    template, facts = people_template
    folder = tmp_path_factory.mktemp("logged")
    path = copy_db(template, folder / "people.db")
    instance = folder / "instance"
    settings = {"DEVELOPMENT": "true", "INSTANCE": str(instance)}
    instance.mkdir(mode=0o700)
    hailong("--database", str(path), "--instance", str(instance), "migrate")  # makes the log's key
    server = Server(path, settings=settings, log_path=folder / "serve.log").start()
    server.instance, server.tablets = instance, {}
    try:
        for counter in ("DN-TT-Q1", "DN-BH-Q1"):
            server.tablets[counter] = enroll_tablet(server, folder / counter, counter)
        server.votes = {"in": send(server, "DN-TT-Q1", "NV001", [4, 3, 1]),
                        "out": send(server, "DN-BH-Q1", "NV004", [3, 2])}
        yield server
    finally:
        for tablet in server.tablets.values():
            tablet.close()
        server.stop()


def send(server, counter, staff, ratings):
    """Votes signed by the counter's tablet and delivered; their ids in order."""
    tablet = server.tablets[counter]
    ids = [tablet.record_vote(staff, rating, reasons=[] if rating >= 3 else ["long_wait"])["id"] for rating in ratings]
    while tablet.send("votes")[0]:
        pass
    return ids


def open_page(page, server, path, lang):
    response = page.goto(f"{server.url}/lang/{lang}?next={urllib.parse.quote(path)}")
    page.wait_for_load_state("load")
    return response


def publish(page, server, tree="votes"):
    """Press the tree's "publish a checkpoint now" button; returns the new checkpoint's row."""
    open_page(page, server, "/log", "en")
    page.click(f"#trees tr[data-tree={tree}] form.publish button")
    page.wait_for_selector("#note")
    db = storage.connect(server.database)
    try:
        row = db.execute("SELECT id, size, note, root FROM log_checkpoints WHERE tree = ? ORDER BY id DESC LIMIT 1",
                         [tree]).fetchone()
    finally:
        db.close()
    return {"id": row[0], "size": row[1], "note": row[2], "root": row[3]}


@pytest.mark.parametrize("lang,heading,signed", [("vi", "Điểm kiểm chứng", "hợp lệ"), ("en", "Checkpoint", "valid")])
def test_a_checkpoint_published_from_the_page_shows_its_note_as_text_file_and_qr_with_the_servers_key(
        logged, browser, lang, heading, signed):
    with signed_in(browser, logged, "auditor") as page:
        found = watch(page)
        row = publish(page, logged)
        assert row["size"] >= 5  # every vote the tablets sent, the other unit's too: the log is one
        open_page(page, logged, f"/log/votes/checkpoints/{row['id']}", lang)
        assert page.text_content("h1").startswith(heading)
        assert page.text_content("#note") == row["note"]
        assert page.text_content("#root") == base64.b64encode(row["root"]).decode()
        assert signed in page.text_content("#signature-check")
        # The QR code is the note itself, signature line included.
        expected = re.search(r' d="([^"]+)"', qr_svg(row["note"])).group(1)
        assert page.get_attribute("#note-qr svg path", "d") == expected
        shown = hailong("--database", logged.database, "--instance", str(logged.instance), "keys", "show").stdout
        assert page.text_content("#verifier-key") in shown and page.text_content("#public-key") in shown
        public = base64.b64decode(page.text_content("#public-key"))
        assert notes.verify_note(row["note"], public)
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=logged.url)
        page.click("button.copy")
        assert page.evaluate("navigator.clipboard.readText()") == row["note"]
        assert page.text_content("button.copy") == {"vi": "Đã sao chép", "en": "Copied"}[lang]
        with page.expect_download() as download:
            page.click("#download-note")
        assert download.value.path().read_bytes() == row["note"].encode("utf-8")
        assert download.value.suggested_filename == f"hailong-votes-{row['size']}.txt"
        open_page(page, logged, "/log", lang)
        latest = page.text_content("#trees tr[data-tree=votes]")
        assert f"{row['size']}" in latest.replace(".", "").replace(",", "")
        assert page.locator(f"#checkpoints tr[data-checkpoint='{row['id']}']").count() == 1
        assert violations(page, found) == []


def test_a_vote_of_the_auditors_unit_is_verified_signature_leaf_and_proof(logged, browser):
    vote = logged.votes["in"][1]
    with signed_in(browser, logged, "auditor") as page:
        found = watch(page)
        checkpoint = publish(page, logged)
        for lang, included in (("vi", "đã có trong nhật ký"), ("en", "included")):
            open_page(page, logged, "/log/verify", lang)
            page.fill("#verify-vote input[name=vote]", vote)
            page.click("#verify-vote button")
            page.wait_for_selector("#inclusion")
            assert vote in page.text_content("#vote-facts")
            assert "state-online" in page.inner_html("#signature-check")
            assert included in page.text_content("#inclusion-check")
            assert page.text_content("#checkpoint-root") == base64.b64encode(checkpoint["root"]).decode()
            # The page's figures check out on their own: leaf + path → the checkpoint's root.
            index = int(page.text_content("#leaf-index"))
            leaf = base64.b64decode(page.text_content("#leaf-hash"))
            path = [base64.b64decode(h) for h in page.locator("#proof-hashes code").all_text_contents()]
            assert merkle.verify_inclusion(leaf, index, checkpoint["size"], path, checkpoint["root"])
            assert page.text_content("#computed-root") == page.text_content("#checkpoint-root")
        assert violations(page, found) == []


def test_a_vote_of_another_unit_is_refused_to_the_units_auditor_but_shown_to_the_admin(logged, browser):
    vote = logged.votes["out"][0]
    with signed_in(browser, logged, "auditor", locale="en-US") as page:
        response = open_page(page, logged, f"/log/verify?vote={vote}", "en")
        assert response.status == 404
        assert "No vote with this id" in page.text_content("#outcome")
        assert "NV004" not in page.content() and page.locator("#vote-facts").count() == 0
    with signed_in(browser, logged, "admin") as page:
        assert open_page(page, logged, f"/log/verify?vote={vote}", "vi").status == 200
        assert "NV004" in page.text_content("#vote-facts")


def test_a_vote_newer_than_the_last_checkpoint_or_a_wrong_id_says_so(logged, browser):
    with signed_in(browser, logged, "admin", locale="en-US") as page:
        publish(page, logged)
        late = send(logged, "DN-TT-Q1", "NV001", [4])[0]
        open_page(page, logged, f"/log/verify?vote={late}", "en")
        assert "state-online" in page.inner_html("#signature-check")
        assert "not in the log yet" in page.text_content("#outcome") or \
            "No signed checkpoint covers this vote yet" in page.text_content("#outcome")
        assert open_page(page, logged, "/log/verify?vote=00000000-0000-7000-8000-0000000000ff", "en").status == 404
        assert open_page(page, logged, "/log/verify?vote=not-a-vote", "en").status == 400
        assert "A vote id looks like" in page.text_content("#verify-vote .error")


def test_the_log_pages_fit_a_phone_and_the_checkpoint_prints_alone(logged, browser):
    with signed_in(browser, logged, "auditor", viewport=PHONE) as page:
        checkpoint = publish(page, logged)
        for path in ("/log", "/log/sessions/checkpoints", f"/log/votes/checkpoints/{checkpoint['id']}",
                     f"/log/verify?vote={logged.votes['in'][0]}"):
            assert open_page(page, logged, path, "vi").status == 200
            check_fits_a_phone(page, path)
        open_page(page, logged, f"/log/votes/checkpoints/{checkpoint['id']}", "vi")
        page.emulate_media(media="print")
        assert not page.locator("header").is_visible() and not page.locator("#download-note").is_visible()
        assert page.locator("#note").is_visible() and page.locator("#note-qr svg").is_visible()
        assert page.locator("#verifier-key").is_visible()


def test_the_audit_log_page_leads_to_the_log_and_exports_a_bundle_that_verifies_against_a_kept_checkpoint(
        logged, browser, tmp_path):
    with signed_in(browser, logged, "auditor") as page:
        found = watch(page)
        open_page(page, logged, "/admin/audit", "vi")
        page.click("#log-links a:has-text('Điểm kiểm chứng')")
        page.wait_for_selector("#trees")
        # The auditor keeps a checkpoint of the audit log, as its page offers...
        page.click("#trees tr[data-tree=audit] form.publish button")
        page.wait_for_selector("#note")
        with page.expect_download() as kept:
            page.click("#download-note")
        checkpoint = tmp_path / kept.value.suggested_filename
        kept.value.save_as(checkpoint)
        # ...and later exports the audit log from its page.
        open_page(page, logged, "/admin/audit", "vi")
        page.click("#audit-export summary")
        page.select_option("#audit-export select[name=format]", "jsonl")
        with page.expect_download() as download:
            page.click("#audit-export button")
        bundle = tmp_path / download.value.suggested_filename
        download.value.save_as(bundle)
        assert violations(page, found) == []
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        entries = [json.loads(line) for line in archive.read("audit.jsonl").decode("utf-8").splitlines()]
    assert (manifest["kind"], manifest["format"]) == ("audit", "jsonl")
    # The unit's auditor gets the unit's entries (its tablet's enrollment code), not the other unit's.
    issued = {entry["object_id"] for entry in entries if entry["action"] == "issue_code"}
    assert issued == {"DN-TT-Q1"}, issued
    report = hailong("verify", str(bundle), "--checkpoint", str(checkpoint), check=False)
    assert report.returncode == 0, report.stdout + report.stderr

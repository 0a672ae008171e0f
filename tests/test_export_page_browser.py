"""The export page in a real browser: the auditor's nav link, the filters form, a streamed download."""

import json
import zipfile

import pytest

from devtools.processes import Server
from server.ledger import keys
from tests.admin_live import PHONE, signed_in, submit
from tests.people import copy_db


@pytest.fixture(scope="module")
def export_server(people_template, tmp_path_factory):
    """The people database served with an instance folder that holds the log's key."""
    template, _facts = people_template
    folder = tmp_path_factory.mktemp("export_server")
    path = copy_db(template, folder / "people.db")
    keys.ensure_key(str(folder))
    server = Server(path, settings={"DEVELOPMENT": "true", "INSTANCE": str(folder)},
                    log_path=folder / "serve.log").start()
    yield server
    server.stop()


def test_an_auditor_downloads_a_bundle_of_their_units_from_the_export_page(export_server, browser, tmp_path):
    with signed_in(browser, export_server, "auditor", locale="en-GB") as page:
        page.click("text=Exports")
        assert page.url.endswith("/admin/exports")
        with page.expect_download() as waiting:
            submit(page, "#export-votes", format="jsonl", flagged="include")
        download = waiting.value
        assert download.suggested_filename.startswith("hailong-votes-") and download.suggested_filename.endswith(".zip")
        target = tmp_path / "bundle.zip"
        download.save_as(target)
        bundle = zipfile.ZipFile(target)
        rows = [json.loads(line) for line in bundle.read("votes.jsonl").decode().splitlines()]
        assert rows and all("DN-TT" in (row["unit"], row["counter_unit"]) for row in rows)
        assert json.loads(bundle.read("manifest.json"))["format"] == "jsonl"


def test_the_export_page_fits_a_phone_and_says_which_field_is_wrong(export_server, browser):
    with signed_in(browser, export_server, "auditor", viewport=PHONE, locale="vi-VN") as page:
        page.goto(export_server.url + "/admin/exports")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        submit(page, "#export-votes", staff="KHONG-CO")
        assert page.locator("#export-votes .error").inner_text() == "Không có cán bộ với mã này."

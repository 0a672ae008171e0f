"""The kiosk's texts come from Babel catalogs: complete, translated, and compiled as committed."""

import pathlib

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

KIOSK = pathlib.Path(__file__).parent.parent / "device_client" / "kiosk"
CONFIG = [("**.py", "python"), ("templates/**.html", "jinja2")]


def extracted_ids():
    return {message[2] for message in extract_from_dir(str(KIOSK), CONFIG)}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_text_of_the_page_is_translated_and_the_mo_file_is_current(lang):
    folder = KIOSK / "translations" / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as handle:
        po = {m.id: m.string for m in read_po(handle) if m.id}
    with open(folder / "messages.mo", "rb") as handle:
        mo = {m.id: m.string for m in read_mo(handle) if m.id}
    assert extracted_ids() <= set(po), "run pybabel extract/update (docs/kiosk.md)"
    assert all(po.values()), "untranslated entries"
    assert mo == po, "run pybabel compile -d device_client/kiosk/translations"


def test_the_vietnamese_catalog_is_vietnamese():
    with open(KIOSK / "translations" / "vi" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        po = {m.id: m.string for m in read_po(handle) if m.id}
    assert po["Thank you!"] == "Xin cảm ơn Quý vị!"
    assert po["This counter is closed"] == "Quầy đang tạm nghỉ"

"""The admin pages' catalogs: every text extracted as docs/admin.md says, translated, compiled as committed."""

import pathlib

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from marshmallow import Schema, fields, validate

from server.web import fixed_messages

ROOT = pathlib.Path(__file__).parent.parent
TRANSLATIONS = ROOT / "server" / "translations"
# docs/admin.md extracts with -k N_ -k _ -k gettext (pybabel adds them to its defaults).
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "_": None, "gettext": None}


def extracted_ids():
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    return {message[2] if isinstance(message[2], str) else message[2][0]
            for message in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)}


def catalog(lang, kind):
    """``{msgid: translation}``; a plural entry's translation is the tuple of its forms."""
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with open(folder / f"messages.{kind}", "rb") as handle:
        messages = read_po(handle) if kind == "po" else read_mo(handle)
        return {(m.id if isinstance(m.id, str) else m.id[0]):
                (m.string if isinstance(m.string, str) else tuple(m.string)) for m in messages if m.id}


def translated(text):
    return all(text) if isinstance(text, tuple) else bool(text)


def test_every_extracted_text_has_a_vietnamese_translation():
    po = catalog("vi", "po")
    missing = sorted(extracted_ids() - set(po))
    assert not missing, f"run pybabel extract/update (docs/admin.md): {missing[:5]}"
    untranslated = sorted(msgid for msgid, text in po.items() if not translated(text))
    assert not untranslated, f"untranslated in vi/messages.po: {untranslated[:5]}"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_compiled_catalog_is_the_po_file(lang):
    assert extracted_ids() <= set(catalog(lang, "po")), "run pybabel extract/update (docs/admin.md)"
    po, mo = catalog(lang, "po"), catalog(lang, "mo")
    done = {msgid: text for msgid, text in po.items() if translated(text)}
    # Untranslated entries (English) may be left out of the .mo, or written as their msgid.
    assert {msgid: mo.get(msgid) for msgid in done} == done and set(mo) <= set(po), \
        "run pybabel compile -d server/translations"


def test_the_vietnamese_catalog_is_vietnamese():
    po = catalog("vi", "po")
    assert po["Missing data for required field."] == "Trường này là bắt buộc."
    assert po["A unit with this code exists."] == "Đã có đơn vị với mã này."


def library_messages(owner):
    if owner == "Schema":
        return Schema._default_error_messages
    if owner == "Regexp":
        return {"default_message": validate.Regexp.default_message}
    return getattr(fields, owner).default_error_messages


@pytest.mark.parametrize("place, text", fixed_messages.MARSHMALLOW.items(), ids=str)
def test_each_marshmallow_text_in_the_catalog_is_still_marshmallows_own(place, text):
    owner, key = place
    assert library_messages(owner)[key] == text


def test_each_csrf_text_in_the_catalog_is_still_flask_wtfs_own():
    import inspect

    from flask_wtf import csrf

    source = inspect.getsource(csrf)
    for text in fixed_messages.CSRF:
        assert f'"{text}"' in source

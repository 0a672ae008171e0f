"""/api/docs: one language (English, like the API, page chrome included), `code` as code, named
schemas as links to their sections, and readable types for arrays and nested objects."""

import re

from server.openapi import schema_type
from tests.admin_live import people_server, signed_in  # noqa: F401

VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


def test_the_docs_are_english_throughout_for_a_vietnamese_visitor(people_server, browser):
    with signed_in(browser, people_server) as page:  # a Vietnamese browser, signed in
        page.goto(people_server.url + "/api/docs")
        assert page.get_attribute("html", "lang") == "en"
        assert page.locator("header nav a", has_text="Units").count() == 1
        assert not VIETNAMESE.search(page.text_content("body"))


def test_backticks_become_code_and_refs_become_links_to_their_schema(people_server, browser):
    with signed_in(browser, people_server, locale="en-US") as page:
        page.goto(people_server.url + "/api/docs")
        text = page.text_content("main")
        assert "`" not in text and "$ref" not in text and "#/components" not in text
        create_user = page.locator("#op-post--api-v1-users")
        assert create_user.locator("p.name code").first.text_content() == "users.write"
        create_user.locator("a", has_text="User").first.click()
        assert page.url.endswith("#schema-User")
        roles = page.locator("#schema-User tr", has_text="roles").text_content()
        assert "array of Role" in " ".join(roles.split())
        targets = page.eval_on_selector_all("a[href^='#']", "links => links.map(a => a.getAttribute('href'))")
        missing = [t for t in set(targets) if page.locator(t).count() != 1]
        assert targets and not missing, missing


def test_readable_types_for_arrays_nested_objects_and_optional_values():
    assert str(schema_type({"$ref": "#/components/schemas/Unit"})) == '<a href="#schema-Unit">Unit</a>'
    assert str(schema_type({"type": "array", "items": {"$ref": "#/components/schemas/Role"}})) == (
        'array of <a href="#schema-Role">Role</a>')
    nested = {"type": "object", "properties": {"units": {"type": "array", "items": {"type": "string"}}}}
    assert str(schema_type(nested)) == "object {<code>units</code>: array of string}"
    assert str(schema_type({"type": "string", "nullable": True})) == "string or null"
    assert str(schema_type({"type": "object", "additionalProperties": {"type": "integer"}})) == "object of integer"

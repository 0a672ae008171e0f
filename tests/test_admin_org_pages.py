"""Unit and counter pages list what is under them, as far as the viewer's roles reach, each linked."""

from tests.admin_live import people_server, signed_in  # noqa: F401


def codes(page, selector):
    return [" ".join(t.split()) for t in page.locator(f"{selector} tbody td:first-child a").all_text_contents()]


def test_a_unit_page_lists_its_sub_units_counters_staff_and_tablets(people_server, browser):
    with signed_in(browser, people_server, locale="en-US") as page:
        page.goto(people_server.url + "/admin/units/DN")
        assert page.locator("#sub-units a").all_text_contents() == ["DN-BH", "DN-TT"]
        page.goto(people_server.url + "/admin/units/DN-TT")
        assert codes(page, "#unit-counters") == ["DN-TT-Q1", "DN-TT-Q2"]
        assert codes(page, "#unit-staff") == ["NV001", "NV002", "NV003", "NV005"]
        tablets = page.locator("#unit-devices tbody tr[data-device]")
        assert sorted(tablets.evaluate_all("rows => rows.map(r => r.dataset.device)")) == sorted(
            [people_server.facts["devices"]["in"], people_server.facts["devices"]["in2"]])
        page.locator("#unit-staff a", has_text="NV002").click()
        page.wait_for_url(people_server.url + "/admin/staff/NV002")


def test_hr_sees_a_units_staff_but_not_its_counters_or_tablets(people_server, browser):
    with signed_in(browser, people_server, username="hr", locale="en-US") as page:
        page.goto(people_server.url + "/admin/units/DN-TT")
        assert codes(page, "#unit-staff") == ["NV001", "NV002", "NV003", "NV005"]
        assert page.locator("#unit-counters, #unit-devices, #edit-unit").count() == 0
        assert page.goto(people_server.url + "/admin/units/DN-BH").status == 404


def test_a_counter_page_lists_its_tablets_and_its_units_staff(people_server, browser):
    with signed_in(browser, people_server, username="auditor", locale="en-US") as page:
        page.goto(people_server.url + "/admin/counters/DN-TT-Q1")
        tablets = page.locator("#counter-devices tbody tr[data-device]")
        assert tablets.evaluate_all("rows => rows.map(r => r.dataset.device)") == [
            people_server.facts["devices"]["in"]]
        assert page.locator("#counter-devices button").count() == 0  # auditors cannot revoke
        assert codes(page, "#counter-staff") == ["NV001", "NV002", "NV003", "NV005"]
        assert page.locator("#edit-counter").count() == 0
        page.locator(".facts a", has_text="DN-TT").click()
        page.wait_for_url(people_server.url + "/admin/units/DN-TT")

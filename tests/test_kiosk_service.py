"""The kiosk's local service on its own, through Flask's test client over an offline tablet."""

import pytest

from tests.kiosk_live import kiosk_test_client, offline_tablet


@pytest.fixture
def client(kiosk_client):
    return kiosk_client


def test_the_kiosk_answers_favicon_ico_with_a_real_icon(client):
    with client.get("/favicon.ico") as answer:  # closes the file it streams
        assert answer.status_code == 200
        assert answer.mimetype == "image/vnd.microsoft.icon"
        icon = answer.get_data()
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO header: reserved 0, type 1 (icon)
    assert icon[22:30] == b"\x89PNG\r\n\x1a\n"  # its one 32x32 image, as PNG
    assert (icon[6], icon[7]) == (32, 32)


def test_a_vote_the_server_would_refuse_is_refused_at_the_tap_with_a_400(client):
    assert client.post("/api/staff/sign-in", json={"staff": "NV001", "pin": "1234"}).status_code == 200
    refused = client.post("/api/vote", json={"key": "citizen-key-1", "rating": True, "reasons": []})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "invalid_vote"
    assert "rating: Not a valid integer." in refused.get_json()["error"]["message"]
    assert client.get("/api/state").get_json()["queue"] == 0


def test_the_kiosk_serves_a_cached_photo_as_the_type_it_was_stored_as(tmp_path):
    import hashlib
    import os

    from device_client import staff, store
    from tests.images import image_bytes

    photos = {"NV001": image_bytes("JPEG"), "NV002": image_bytes("PNG")}
    tablet = offline_tablet(tmp_path)
    config = tablet.config
    for person in config["staff"]:
        if person["code"] in photos:
            person["photo_sha256"] = hashlib.sha256(photos[person["code"]]).hexdigest()
    with store.transaction(tablet.conn):
        store.set_meta(tablet.conn, "config", config)
    os.makedirs(staff.photo_dir(tablet))
    for code, data in photos.items():
        sha = hashlib.sha256(data).hexdigest()
        with open(os.path.join(staff.photo_dir(tablet), sha + staff.photo_extension(data)), "wb") as handle:
            handle.write(data)
    tablet.close()
    with kiosk_test_client(tmp_path) as client:
        for code, content_type in (("NV001", "image/jpeg"), ("NV002", "image/png")):
            with client.get(f"/photo/{code}") as answer:
                assert (answer.status_code, answer.mimetype) == (200, content_type)
                assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert client.get("/photo/NV003").status_code == 404


def test_only_jpeg_png_and_webp_bytes_are_ever_cached_as_photos():
    from device_client.staff import photo_extension
    from tests.images import image_bytes

    assert [photo_extension(image_bytes(kind)) for kind in ("JPEG", "PNG", "WEBP", "GIF")] == [
        ".jpg", ".png", ".webp", None]
    assert photo_extension(b"<html><script>alert(1)</script></html>") is None

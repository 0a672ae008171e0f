"""Staff photos are decoded with Pillow within a pixel limit and stored re-encoded: nothing uploaded passes as it came."""

import io
import time

import pytest
from PIL import Image

from server import storage
from server.errors import Invalid
from server.manage import staff
from server.manage.actor import cli_actor
from tests.images import POLYGLOT_HTML, declared_png, image_bytes, png_html_polyglot
from tests.kiosk_live import portrait_png
from tests.live import hailong
from tests.people import app_for, csrf_token, sign_in

LIMIT = 512 * 1024


def stored(db, code="NV002"):
    row = db.execute("SELECT content_type, data FROM staff_photos p JOIN staff s ON s.id = p.staff_id"
                     " WHERE s.code = ?", [code]).fetchone()
    return row[0], Image.open(io.BytesIO(row[1])), row[1]


@pytest.fixture
def db(people):
    path, _ = people
    database = storage.connect(path)
    yield database
    database.close()


def test_a_png_that_is_also_an_html_page_is_stored_as_a_plain_jpeg_without_its_markup(db):
    polyglot = png_html_polyglot()
    assert POLYGLOT_HTML in polyglot and Image.open(io.BytesIO(polyglot)).size == (20, 20)  # really both
    answer = staff.set_photo(db, cli_actor(), "NV002", polyglot, LIMIT)
    content_type, image, data = stored(db)
    assert answer["content_type"] == content_type == "image/jpeg"
    assert (image.format, image.size) == ("JPEG", (20, 20))
    assert b"<html" not in data and b"script" not in data and b"Comment" not in data


@pytest.mark.parametrize("width, height", [(12000, 12000), (4097, 10), (10, 4097), (100_000, 100_000)])
def test_an_image_of_more_than_4096_pixels_a_side_is_refused_from_its_header(db, width, height):
    bomb = declared_png(width, height)
    assert len(bomb) < 200_000
    started = time.perf_counter()
    with pytest.raises(Invalid) as refused:
        staff.set_photo(db, cli_actor(), "NV002", bomb, LIMIT)
    assert time.perf_counter() - started < 1  # never decoded
    assert refused.value.fields == {"photo": ["At most 4096 × 4096 pixels."]}
    assert refused.value.message == "The photo is larger than 4096 × 4096 pixels."
    assert db.execute("SELECT COUNT(*) FROM staff_photos WHERE staff_id = (SELECT id FROM staff"
                      " WHERE code = 'NV002')").fetchone()[0] == 0


def test_a_large_photo_is_turned_upright_shrunk_for_the_kiosk_and_loses_its_exif(db):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show it rotated 90° clockwise
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (10.0, 45.0, 0.0)}  # GPS: where it was taken
    camera = image_bytes("JPEG", (3000, 2000), exif=exif)
    staff.set_photo(db, cli_actor(), "NV002", camera, LIMIT)
    _, image, data = stored(db)
    assert image.size == (400, 600)  # upright (portrait) and at most 600 px a side
    assert not image.getexif() and b"Exif" not in data and b"PhoneMaker" not in data


def test_transparency_is_laid_on_white_and_every_accepted_format_becomes_jpeg(db):
    clear = image_bytes("PNG", (30, 30), mode="RGBA", color=(0, 0, 0, 0))
    staff.set_photo(db, cli_actor(), "NV002", clear, LIMIT)
    _, image, _ = stored(db)
    assert image.mode == "RGB" and image.getpixel((15, 15)) == (255, 255, 255)
    for kind in ("JPEG", "PNG", "WEBP"):
        assert staff.set_photo(db, cli_actor(), "NV002", image_bytes(kind), LIMIT)["content_type"] == "image/jpeg"


@pytest.mark.parametrize("data", [image_bytes("GIF"), image_bytes("BMP"), b"\xff\xd8\xff" + b"\x00" * 50,
                                  image_bytes("JPEG", (300, 300))[:400], b"<html>not a picture</html>",
                                  b"\x89PNG\r\n\x1a\n" + b"\x00" * 64])
def test_anything_pillow_cannot_decode_as_jpeg_png_or_webp_is_refused(db, data):
    with pytest.raises(Invalid) as refused:
        staff.set_photo(db, cli_actor(), "NV002", data, LIMIT)
    assert refused.value.code == "unsupported_media_type"
    assert refused.value.fields == {"photo": ["Not a JPEG, PNG or WebP image."]}


@pytest.mark.backends  # BLOB on SQLite, bytea on PostgreSQL
def test_the_page_the_api_and_the_cli_all_store_the_re_encoded_photo(people):
    path, facts = people
    client = app_for(path).test_client()
    api = client.put("/api/v1/staff/NV002/photo", headers={"Authorization": f"Bearer {facts['tokens']['hr']}"},
                     content_type="multipart/form-data", data={"photo": (io.BytesIO(png_html_polyglot()), "a.png")})
    assert api.status_code == 200 and api.json["content_type"] == "image/jpeg"
    bomb = client.put("/api/v1/staff/NV002/photo", headers={"Authorization": f"Bearer {facts['tokens']['hr']}"},
                      content_type="multipart/form-data", data={"photo": (io.BytesIO(declared_png(12000, 12000)),
                                                                          "b.png")})
    assert bomb.status_code == 400 and bomb.json["error"]["code"] == "photo_too_many_pixels"

    sign_in(client, "hr")
    form = {"action": "photo", "csrf_token": csrf_token(client, "/admin/staff/NV001"),
            "photo": (io.BytesIO(declared_png(12000, 12000)), "b.png")}
    page = client.post("/admin/staff/NV001", data=form, content_type="multipart/form-data",
                       headers={"Accept-Language": "vi"})
    assert page.status_code == 400 and "Tối đa 4096 × 4096 điểm ảnh." in page.get_data(as_text=True)
    form["photo"] = (io.BytesIO(png_html_polyglot()), "a.png")
    assert client.post("/admin/staff/NV001", data=form, content_type="multipart/form-data").status_code == 302
    shown = client.get("/admin/staff/NV001/photo")
    assert shown.mimetype == "image/jpeg" and b"<html" not in shown.data

    polyglot = path.parent / "polyglot.png"
    polyglot.write_bytes(png_html_polyglot())
    out = hailong("--database", str(path), "staff", "photo", "NV003", str(polyglot)).stdout
    assert out.startswith("Photo stored for NV003 (image/jpeg, ")
    huge = path.parent / "huge.png"
    huge.write_bytes(declared_png(12000, 12000))
    refused = hailong("--database", str(path), "staff", "photo", "NV003", str(huge), check=False)
    assert refused.stderr.strip() == ("Error: The photo is larger than 4096 × 4096 pixels. "
                                      "(photo: At most 4096 × 4096 pixels.)")
    db = storage.connect(path)
    for code in ("NV001", "NV002", "NV003"):
        assert stored(db, code)[0] == "image/jpeg"
    db.close()


def test_the_drawn_test_portrait_is_a_photo_too():
    assert Image.open(io.BytesIO(staff.reencode_photo(portrait_png()))).size == (90, 110)

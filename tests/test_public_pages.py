"""What the server answers without sign-in: the site icon, and nothing else leaks."""

from server import create_app


def client(db_path):
    return create_app({"TESTING": True, "DATABASE": str(db_path)}).test_client()


def test_favicon_ico_is_a_real_32_pixel_icon(db_path):
    with client(db_path).get("/favicon.ico") as answer:
        assert answer.status_code == 200
        assert answer.mimetype == "image/vnd.microsoft.icon"
        icon = answer.get_data()
    assert icon[:4] == b"\x00\x00\x01\x00"  # ICO header: reserved 0, type 1 (icon)
    assert (icon[6], icon[7]) == (32, 32)
    assert icon[22:30] == b"\x89PNG\r\n\x1a\n"  # its one image, as PNG, right after the directory


def test_every_page_links_the_icon_in_its_head(db_path):
    page = client(db_path).get("/login").get_data(as_text=True)
    head = page[:page.index("</head>")]
    assert '<link rel="icon" href="/favicon.ico"' in head


def test_the_enrollment_link_explains_how_to_enroll_without_signing_in(db_path):
    answer = client(db_path).get("/enroll?code=WJ6EP-ZYGHP", headers={"Accept-Language": "vi"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "hailong-device enroll --link 'http://localhost/enroll?code=WJ6EP-ZYGHP'" in page
    assert "hailong-device enroll --server http://localhost --code WJ6EP-ZYGHP" in page
    assert "Đăng ký máy tính bảng" in page
    english = client(db_path).get("/enroll?code=WJ6EP-ZYGHP", headers={"Accept-Language": "en"})
    assert "Enroll a tablet" in english.get_data(as_text=True)


def test_the_enrollment_page_looks_nothing_up(tmp_path):
    """With no database at all it still answers: it cannot tell a real code from a made-up one."""
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "missing" / "hailong.db")})
    real, made_up = (app.test_client().get(f"/enroll?code={code}") for code in ("WJ6EP-ZYGHP", "AAAAA-AAAAA"))
    assert real.status_code == made_up.status_code == 200
    assert real.get_data(as_text=True).replace("WJ6EP-ZYGHP", "AAAAA-AAAAA") == made_up.get_data(as_text=True)


def test_the_enrollment_page_keeps_the_code_out_of_caches_and_referrers(db_path):
    answer = client(db_path).get("/enroll?code=WJ6EP-ZYGHP")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="robots" content="noindex">' in answer.get_data(as_text=True)


def test_the_enrollment_page_repeats_only_something_shaped_like_a_code(db_path):
    page = client(db_path).get("/enroll?code=<script>alert(1)</script>").get_data(as_text=True)
    main = page[page.index("<main>"):]
    assert "alert" not in main and "hailong-device enroll --link" not in main
    assert "<script>" not in page
    assert "Issue enrollment code" in page or "Cấp mã đăng ký" in page

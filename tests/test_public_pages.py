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

"""A real ``hailong serve`` process for integration tests, and a small org to serve.

Tests talk to it over HTTP on 127.0.0.1, exactly as tablets do. Starting and
stopping it is ``devtools.processes``, shared with the benches and the demo.
"""

import os
import subprocess

from devtools.processes import BIN

ORG_CSV = """kind,code,name,parent,title,active
unit,DN,Tỉnh Đồng Nai,,,
unit,DN-TT,Trung tâm Phục vụ hành chính công tỉnh,DN,,
unit,DN-BH,Bộ phận Một cửa thành phố Biên Hòa,DN,,
counter,DN-TT-Q1,Quầy 1 – Đất đai,DN-TT,,
counter,DN-TT-Q2,Quầy 2 – Hộ tịch,DN-TT,,
counter,DN-BH-Q1,Quầy 1 – Tổng hợp,DN-BH,,
staff,NV001,Nguyễn Thị Hồng Nhung,DN-TT,Chuyên viên,
staff,NV002,Trần Văn Bình,DN-TT,Cán bộ một cửa,
staff,NV003,Lê Hoàng Phúc,DN-TT,Chuyên viên,
staff,NV004,Phạm Thị Thu Trang,DN-BH,Cán bộ một cửa,
staff,NV005,Võ Minh Đức,DN-TT,Chuyên viên,no
"""


def hailong(*args, env=None, check=True, input=None):
    """Run the real ``hailong`` console script; returns the CompletedProcess."""
    result = subprocess.run(
        [os.path.join(BIN, "hailong"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hailong {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def seed_org(database, tmp_path):
    path = tmp_path / "org.csv"
    path.write_text(ORG_CSV, encoding="utf-8")
    hailong("--database", str(database), "org", "import", str(path))


def issue_code(database, counter="DN-TT-Q1"):
    """An enrollment code, issued in-process (the CLI has its own tests)."""
    from server import storage
    from server.manage.actor import cli_actor
    from server.manage import devices
    from server.settings import DEFAULTS

    db = storage.connect(database)
    try:
        return devices.issue_code(db, cli_actor(), {"counter": counter}, DEFAULTS)["code"]
    finally:
        db.close()


def enroll_tablet(server, data_dir, counter="DN-TT-Q1"):
    """A real device-client tablet enrolled at ``counter`` of ``server``."""
    from device_client.tablet import enroll

    return enroll(str(data_dir), server.url, issue_code(server.database, counter))


def server_rows(database, sql, params=()):
    """Rows (tuples) of a query on the server's database, SQLite file or PostgreSQL URL alike."""
    from server import storage

    db = storage.connect(database)
    try:
        return [tuple(row) for row in db.execute(sql, list(params)).fetchall()]
    finally:
        db.close()

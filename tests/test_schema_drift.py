"""The schema is defined once: a fresh SQLite and a fresh PostgreSQL, both migrated, must hold the same one.

Only the differences ``server/storage/schema.py`` lists in ``ALLOWED``, each
with its reason (votes are partitioned on PostgreSQL, their unique keys in
``vote_keys``), may appear.
"""

from server import storage
from server.storage import schema


def test_both_backends_hold_the_same_schema(tmp_path, postgresql_cluster, postgresql_template):
    from migrations import migrations

    lite = storage.connect(tmp_path / "hailong.db")
    migrations.apply(lite)
    pg = storage.connect(postgresql_cluster.url(postgresql_template))
    try:
        left, right = schema.describe(lite), schema.describe(pg)
    finally:
        lite.close()
        pg.close()
    assert set(left) >= {"votes", "audit_log", "log_leaves", "users"}
    assert schema.differences(left, right) == []


def test_a_column_added_on_one_side_only_is_caught(tmp_path, postgresql_cluster, postgresql_template):
    from migrations import migrations

    lite = storage.connect(tmp_path / "hailong.db")
    migrations.apply(lite)
    lite.execute("ALTER TABLE staff ADD COLUMN nickname TEXT")
    lite.execute("CREATE INDEX staff_nickname ON staff(nickname)")
    pg = storage.connect(postgresql_cluster.url(postgresql_template))
    try:
        found = schema.differences(schema.describe(lite), schema.describe(pg))
    finally:
        lite.close()
        pg.close()
    assert any(line.startswith("staff.columns") for line in found)
    assert any("staff_nickname" in line for line in found)

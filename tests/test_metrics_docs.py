"""docs/operations.md names every metric /metrics serves, and the example alert rules use only those."""

import pathlib
import re

from prometheus_client.parser import text_string_to_metric_families

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def served(client):
    client.get("/healthz")  # so the request metrics have a sample
    families = text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
    return {family.name for family in families}


def named(text):
    """hailong_* names in ``text``, as metric families (counters without their _total)."""
    names = set(re.findall(r"\bhailong_[a-z_]+", text))
    return {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in names}


# Served on PostgreSQL only (this test's database is SQLite).
POSTGRESQL_ONLY = {"hailong_jobs_leader"}


def test_every_metric_is_documented_and_every_documented_one_is_served(client):
    section = (DOCS / "operations.md").read_text(encoding="utf-8").split("## Metrics and alerts")[1].split("\n## ")[0]
    assert served(client) == named(section) - POSTGRESQL_ONLY


def test_the_alert_rules_use_only_metrics_that_exist(client):
    rules = (DOCS / "examples" / "alerts.yml").read_text(encoding="utf-8")
    assert named(rules) <= served(client)

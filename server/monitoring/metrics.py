"""The server's Prometheus metrics: what workers count as it happens, and what a scrape reads from the database.

Counted in the workers (summed over every gunicorn worker in multi-process
mode, ``server/monitoring/multiprocess.py``; since the server started):

- ``hailong_sync_items_total{stream, outcome}``: items tablets sent, by the
  answer each got (accepted, duplicate, conflict, rejected);
- ``hailong_http_requests_total{method, route, status}`` and
  ``hailong_http_request_duration_seconds{method, route}``: answers and how
  long they took, by URL rule (``/api/v1/votes/batch``, ``/admin/staff/<code>``),
  never the raw path.

Read from the database at scrape time (``server/monitoring/figures.py``), so
they hold whatever process wrote them: tablets by state, their reported
queues, sync incidents, job runs, the database's size and the disk's free
space. docs/operations.md, "Metrics and alerts", says what each one means.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client import multiprocess

# The *_created series double what a scrape carries and multi-process mode has none: one shape in both modes.
disable_created_metrics()

OUTCOMES = ("accepted", "duplicate", "conflict", "rejected")
STREAMS = ("votes", "sessions")
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
# Around the targets: ingest p99 <= 100 ms, pages p95 <= 300 ms (bench/README.md); exports may take minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)

SYNC_ITEMS = Counter("hailong_sync_items", "Items tablets sent, by stream and the answer each got.",
                     ["stream", "outcome"])
REQUESTS = Counter("hailong_http_requests", "HTTP answers by method, URL rule and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("hailong_http_request_duration_seconds", "Time to answer, by method and URL rule.",
                    ["method", "route"], buckets=BUCKETS)
COUNTED = (SYNC_ITEMS, REQUESTS, LATENCY)

for _stream in STREAMS:  # every outcome shows from the start, at 0, so rate() and alerts see the series
    for _outcome in OUTCOMES:
        SYNC_ITEMS.labels(_stream, _outcome)


def count_items(stream, statuses):
    """Count one batch's answers (``statuses``: one per item) once its transaction committed."""
    tally = {}
    for status in statuses:
        tally[status] = tally.get(status, 0) + 1
    for status, count in tally.items():
        SYNC_ITEMS.labels(stream, status).inc(count)


def observe_request(method, route, status, seconds):
    method = method if method in METHODS else "OTHER"
    route = route or "unmatched"
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def exposition(figures, accept=None):
    """``(body, content type)`` of a scrape: every worker's counts plus ``figures`` (``server/monitoring/figures.py``),
    in the format the scraper's ``Accept`` asks for (Prometheus text, or OpenMetrics)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (a test's app, ``flask run``): its own counts
        for metric in COUNTED:
            registry.register(metric)
    registry.register(_Figures(figures))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


class _Figures:
    """The scrape-time figures as metric families."""

    def __init__(self, figures):
        self.figures = figures

    def collect(self):
        f = self.figures
        yield _gauge("hailong_build_info", "The server's version (always 1).", {"version": f["version"]}, 1)
        tablets = GaugeMetricFamily("hailong_tablets", "Enrolled tablets by state (online, late, silent,"
                                    " revoked), as the devices page shows them.", labels=["state"])
        for state, count in f["tablets"].items():
            tablets.add_metric([state], count)
        yield tablets
        queues = f["queues"]
        yield _gauge("hailong_tablet_queue_items", "Items waiting on tablets to be sent, as each last reported"
                     " (sum over tablets not revoked).", {}, queues["items"])
        yield _gauge("hailong_tablet_queue_items_max", "The largest queue any one tablet last reported.", {},
                     queues["largest"])
        yield _gauge("hailong_tablet_oldest_unsent_seconds", "Age of the oldest item any tablet reported still"
                     " unsent (0 when none is).", {}, queues["oldest_unsent_seconds"])
        incidents = CounterMetricFamily("hailong_sync_incidents", "Sync incidents kept, by stream and kind"
                                        " (rejected, conflict, gap, suppressed); never deleted.",
                                        labels=["stream", "kind"])
        for stream, kind, count in f["incidents"]:
            incidents.add_metric([stream, kind], count)
        yield incidents
        yield _gauge("hailong_sync_open_gaps", "Sequence gaps not filled yet: numbered items the server has not"
                     " received.", {}, f["open_gaps"])
        yield from _jobs(f["jobs"])
        if f.get("jobs_leader") is not None:
            yield _gauge("hailong_jobs_leader", "PostgreSQL: 1 while a hailong jobs leads (holds the leader lock),"
                         " 0 when none does and nothing is scheduled.", {}, f["jobs_leader"])
        yield _gauge("hailong_database_bytes", "Size of the database file and its write-ahead log (on PostgreSQL:"
                     " pg_database_size).", {}, f["database_bytes"])
        if f["disk_free_bytes"] is not None:  # unknown on PostgreSQL: its disk is the database server's
            yield _gauge("hailong_disk_free_bytes", "Free space on the database's file system (for its owner).",
                         {}, f["disk_free_bytes"])
            yield _gauge("hailong_disk_size_bytes", "Size of the database's file system.", {},
                         f["disk_size_bytes"])


def _jobs(rows):
    # The label is job_name, not job: Prometheus gives every scraped series the scrape job's own ``job`` label.
    runs = CounterMetricFamily("hailong_job_runs", "Runs of each scheduled job (hailong jobs).", labels=["job_name"])
    failures = CounterMetricFamily("hailong_job_failures", "Runs of each job that failed.", labels=["job_name"])
    ok = GaugeMetricFamily("hailong_job_last_success_timestamp_seconds", "When each job last succeeded (Unix"
                           " time).", labels=["job_name"])
    failing = GaugeMetricFamily("hailong_job_last_run_failed", "1 when the job's latest run failed.",
                                labels=["job_name"])
    seconds = GaugeMetricFamily("hailong_job_last_duration_seconds", "How long each job's latest run took.",
                                labels=["job_name"])
    for row in rows:
        runs.add_metric([row["job"]], row["runs"])
        failures.add_metric([row["job"]], row["failures"])
        if row["last_ok_unix"] is not None:
            ok.add_metric([row["job"]], row["last_ok_unix"])
        failing.add_metric([row["job"]], 1 if row["last_error"] is not None else 0)
        if row["last_seconds"] is not None:
            seconds.add_metric([row["job"]], row["last_seconds"])
    yield from (runs, failures, ok, failing, seconds)


def _gauge(name, help_text, labels, value):
    family = GaugeMetricFamily(name, help_text, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family

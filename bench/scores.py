"""Scores benchmark: a province's month of scores from the rollups, against a plain GROUP BY, and the ranking page.

On the cached year of ``bench/yeardata.py`` (5,000 staff, 10 million votes,
made once under ``bench/work/cache/``), one run measures and writes to
``bench/scores.json``:

- ``month_recompute_s``: everyone's scores for one month from the daily
  rollups (``server.scoring.scores.recompute_month``), target ≤ 2 s;
- ``plain_group_by_s``: the same month from a plain ``GROUP BY`` over the raw
  votes, scored the same way: what the rollups save;
- ``ranking_page_p95_ms``: the ranking page for the whole province over HTTP
  from a real ``hailong serve`` (signed in as an HR officer), target ≤ 300 ms;
- ``rollup_votes_per_s``: the incremental rollup step on newly arrived votes
  (a copy of one day's votes added above the watermark, inside a transaction
  that is rolled back afterwards, so the cache is left as it was).

Each figure is the median of ``--repeat`` runs, printed with its spread and
the target or the figure it is compared with.

Example: .venv/bin/python bench/scores.py
         .venv/bin/python bench/scores.py --votes 200000 --results /tmp/s.json   # a smoke run
"""

import argparse
import datetime as dt
import http.client
import json
import os
import re
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import ROOT, report, yeardata  # noqa: E402
from devtools.processes import Server  # noqa: E402
from server import storage  # noqa: E402
from server.scoring import rollups, scores  # noqa: E402
from server.scoring.days import day_bounds_utc, fixed_offset_minutes  # noqa: E402
from server.scoring.periods import parse_period  # noqa: E402
from server.storage import rollups as rollup_storage  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "scores.json")
TARGETS = {"month_recompute_s": 2.0, "ranking_page_p95_ms": 300.0}
TIMEZONE = "Asia/Ho_Chi_Minh"
HR_USER, HR_PASSWORD = "bench-hr", "bench scores password 2026"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=yeardata.RECIPE["votes"], help="Votes in the cached year.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each measurement (the median is kept).")
    parser.add_argument("--page-requests", type=int, default=30, help="Ranking page requests for the p95.")
    parser.add_argument("--cache", default=yeardata.CACHE, help="Where the cached year lives.")
    parser.add_argument("--results", default=RESULTS, help="Where to write the results (default bench/scores.json).")
    return parser.parse_args(argv)


def last_full_month():
    today = dt.date.today()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def timed(fn, repeat):
    """``(median seconds, [every run's seconds], last result)``."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def ensure_rollups(db, log):
    """Roll up whatever the cache has not rolled yet (the first run rolls the whole year)."""
    started = time.perf_counter()
    total = 0
    while True:
        done = rollups.roll_up(db, TIMEZONE, chunk=200_000)
        total += done["votes"]
        if not done["votes"] and not done["pairs"]:
            break
    seconds = time.perf_counter() - started
    if total:
        log(f"  rolled up {total:,} cached votes in {seconds:.1f} s ({total / seconds:,.0f} votes/s, first run only)")
    return total


def plain_group_by(db, period):
    """The month's scores from the raw votes: one GROUP BY, then the same scoring as the rollups'."""
    start, end = day_bounds_utc(period.first_day, period.last_day, TIMEZONE)
    rows = rollup_storage.period_rows_from_votes(db, start, end)
    return scores.score_rows(db, rows, None, scores.Params(), False, {})


def rollup_rate(db, repeat, log):
    """Votes per second of the incremental step on new votes: one day's votes copied above the watermark."""
    rates = []
    for _ in range(repeat):
        db.execute("BEGIN IMMEDIATE")
        try:
            added = rollup_storage.copy_votes_of_last_day(db)
            started = time.perf_counter()
            rolled = 0
            while True:
                done = rollups.roll_up(db, TIMEZONE)
                rolled += done["votes"]
                if not done["votes"]:
                    break
            seconds = time.perf_counter() - started
        finally:
            db.execute("ROLLBACK")
        assert rolled == added, (rolled, added)
        rates.append(rolled / seconds)
    log(f"  (each run: {added:,} new votes rolled up, then rolled back)")
    return statistics.median(rates), rates


def ranking_page(database, period, requests_n, log):
    """p50/p95 of the province's ranking page over HTTP, signed in as HR on the province."""
    yeardata.hailong(database, "user", "create", "--username", HR_USER, "--role", "hr", "--unit", "TINH",
                     "--password-stdin", input_text=HR_PASSWORD + "\n", ok_if_exists=True)
    with Server(database, workers=2) as server:
        host, port = urllib.parse.urlsplit(server.url).hostname, urllib.parse.urlsplit(server.url).port
        conn = http.client.HTTPConnection(host, port, timeout=60)
        cookie = sign_in(conn)
        path = f"/scores?period={period}"
        sizes, times = [], []
        for i in range(requests_n + 2):
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "vi"})
            answer = conn.getresponse()
            body = answer.read()
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status != 200:
                raise RuntimeError(f"GET {path}: {answer.status} {body[:300]!r}")
            if i >= 2:  # two warm-up requests: the workers' first imports and caches
                times.append(elapsed)
                sizes.append(len(body))
        conn.close()
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    log(f"  ranking page: {len(sizes)} requests, {sizes[-1] / 1e6:.1f} MB each")
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1),
            "max_ms": round(times[-1], 1), "bytes": sizes[-1], "requests": len(times)}


def sign_in(conn):
    conn.request("GET", "/login")
    answer = conn.getresponse()
    page = answer.read().decode()
    cookies = {c.split("=", 1)[0]: c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or []}
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": HR_USER, "password": HR_PASSWORD, "csrf_token": token})
    conn.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(cookies.values())})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 302:
        raise RuntimeError(f"sign-in as {HR_USER}: {answer.status}")
    for c in answer.headers.get_all("Set-Cookie") or []:
        cookies[c.split("=", 1)[0]] = c.split(";", 1)[0]
    return "; ".join(cookies.values())


def main(argv=None):
    args = parse_args(argv)
    load = os.getloadavg()[0]
    print(f"scores bench: 1-minute load {load:.2f} on {os.cpu_count()} cores")
    recipe = dict(yeardata.RECIPE, votes=args.votes)
    database = yeardata.cached_year(recipe, args.cache)
    db = storage.connect(database)
    if fixed_offset_minutes(TIMEZONE) is None:
        raise SystemExit(f"{TIMEZONE} has no fixed offset; the bench assumes one.")
    ensure_rollups(db, print)
    month = last_full_month()
    period = parse_period(month)

    recompute_s, recompute_runs, result = timed(lambda: scores.recompute_month(db, month), args.repeat)
    plain_s, plain_runs, plain = timed(lambda: plain_group_by(db, period), args.repeat)
    staff_scored = len(result["staff"])
    votes_in_month = sum(row["n"] for row in result["staff"])
    same = {r["id"]: r["n"] for r in result["staff"]} == {r["id"]: r["n"] for r in plain["staff"]}
    rate, rate_runs = rollup_rate(db, args.repeat, print)
    db.close()
    page = ranking_page(database, month, args.page_requests, print)

    data = {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": report.machine(load),
        "code": report.code_version(),
        "data": {"votes": args.votes, "staff": staff_scored, "month": month, "votes_in_month": votes_in_month},
        "month_recompute_s": round(recompute_s, 3),
        "month_recompute_runs_s": [round(t, 3) for t in recompute_runs],
        "plain_group_by_s": round(plain_s, 3),
        "plain_group_by_runs_s": [round(t, 3) for t in plain_runs],
        "same_counts_both_ways": same,
        "ranking_page_p95_ms": page["p95_ms"],
        "ranking_page": page,
        "rollup_votes_per_s": round(rate),
        "rollup_runs_votes_per_s": [round(r) for r in rate_runs],
        "targets": TARGETS,
    }
    verdicts = {
        "month_recompute_s": recompute_s <= TARGETS["month_recompute_s"],
        "ranking_page_p95_ms": page["p95_ms"] <= TARGETS["ranking_page_p95_ms"],
    }
    data["verdict"] = "PASS" if all(verdicts.values()) and same else "BELOW"

    def spread(runs, fmt):
        return f"({fmt.format(min(runs))}–{fmt.format(max(runs))})"

    print()
    print(f"{'figure':58} {'median':>10} {'spread':>20} {'compared with':>16}")
    print(f"{'month recompute from rollups, ' + f'{staff_scored:,} staff, s':58} {recompute_s:>10.3f}"
          f" {spread(recompute_runs, '{:.3f}'):>20} {'target ≤ 2.000':>16}")
    print(f"{'the same month by GROUP BY over raw votes, s':58} {plain_s:>10.3f}"
          f" {spread(plain_runs, '{:.3f}'):>20} {f'x{plain_s / recompute_s:.1f} slower':>16}")
    print(f"{'ranking page, whole province, p95 ms':58} {page['p95_ms']:>10.1f}"
          f" {'(p50 ' + str(page['p50_ms']) + ', max ' + str(page['max_ms']) + ')':>20} {'target ≤ 300':>16}")
    print(f"{'incremental rollup, new votes/s':58} {rate:>10,.0f} {spread(rate_runs, '{:,.0f}'):>20}"
          f" {'':>16}")
    print(f"same counts from rollups and raw votes: {same}; verdict {data['verdict']}")
    report.write_results(data, args.results)
    print(f"Written to {args.results}.")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

"""The load bench's people: HR officers reading the score pages and an auditor downloading an export.

They sign in through the sign-in page before the clock starts (a session
cookie each, like a browser), then run in a process of their own, one thread
and one keep-alive connection per person, so their reading and the export's
download never take the tablets' process's time. Each HR officer opens a page
every few seconds (a planned moment, uniform in [0.5, 1.5] x ``page_every``),
in turn the score dashboard, the province's ranking (last month's, then this
month's, which the ingest keeps changing) and one person's score page; a
page's time is counted from its planned moment, so one slow page that delays
the next counts in the next too. The auditor downloads the votes export of
last month (``/admin/exports/votes.zip``, CSV) starting a third of the way in,
reading it as a browser saves it, and checks the zip's manifest.
"""

import datetime as dt
import http.client
import json
import os
import random
import re
import signal
import threading
import time
import urllib.parse
import zipfile

PAGES = ("dashboard", "ranking", "staff")


def sign_in(host, port, username, password):
    """The session cookie of ``username`` after the sign-in form (GET for its CSRF token, then POST)."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("GET", "/login")
    answer = conn.getresponse()
    page = answer.read().decode()
    cookies = {c.split("=", 1)[0]: c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or []}
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token})
    conn.request("POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(cookies.values())})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    if answer.status != 302:
        raise RuntimeError(f"sign-in as {username}: HTTP {answer.status}")
    for c in answer.headers.get_all("Set-Cookie") or []:
        cookies[c.split("=", 1)[0]] = c.split(";", 1)[0]
    return "; ".join(cookies.values())


def month_bounds(month):
    """``(first day, last day)`` of ``YYYY-MM`` as ISO dates."""
    first = dt.date.fromisoformat(month + "-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (following - dt.timedelta(days=1)).isoformat()


def page_paths(months, staff_codes, rng):
    """The pages an HR officer opens, in turn, forever: ``(kind, path)``."""
    last, this = months
    i = 0
    while True:
        kind = PAGES[i % len(PAGES)]
        if kind == "dashboard":
            yield kind, "/dashboard"
        elif kind == "ranking":
            yield kind, f"/scores?period={last if (i // len(PAGES)) % 2 == 0 else this}"
        else:
            yield kind, f"/scores/staff/{rng.choice(staff_codes)}?period={last}"
        i += 1


def run(host, port, hr_cookies, auditor_cookie, months, staff_codes, duration, start_mono, page_every, exports,
        work, results):
    """The people's process: every HR officer and the auditor until ``duration`` s after ``start_mono``;
    puts ``{"pages": [(kind, due ms, in-flight ms, bytes)], "errors": [...], "exports": [...], "cpu_s": ...}``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # on Ctrl-C the bench stops us
    cpu = time.process_time()
    pages, errors, downloads = [], [], []
    lock = threading.Lock()

    def reader(index, cookie):
        rng = random.Random(1000 + index)
        conn = http.client.HTTPConnection(host, port, timeout=120)
        paths = page_paths(months, staff_codes, rng)
        due = rng.uniform(0, page_every)
        while due < duration:
            kind, path = next(paths)
            wait = start_mono + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            began = time.monotonic()
            try:
                conn.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "vi"})
                answer = conn.getresponse()
                body = answer.read()
                ended = time.monotonic()
                with lock:
                    pages.append((kind, 1000 * (ended - start_mono - due), 1000 * (ended - began), len(body)))
                    if answer.status != 200:
                        errors.append(f"page {path}: HTTP {answer.status}: {body[:200]!r}")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=120)
                with lock:
                    errors.append(f"page {path}: {type(exc).__name__}: {exc}")
            due += rng.uniform(0.5, 1.5) * page_every
        conn.close()

    def auditor():
        first, last = month_bounds(months[0])
        path = f"/admin/exports/votes.zip?from={first}&to={last}&format=csv"
        for k in range(exports):
            due = duration * (k + 1) / (exports + 2)
            wait = start_mono + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            downloads.append(download(host, port, path, auditor_cookie, os.path.join(work, f"export-{k}.zip"),
                                      errors, lock))

    threads = [threading.Thread(target=reader, args=(i, c), daemon=True) for i, c in enumerate(hr_cookies)]
    if exports:
        threads.append(threading.Thread(target=auditor, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({"pages": pages, "errors": errors, "exports": downloads, "cpu_s": time.process_time() - cpu})


def download(host, port, path, cookie, target, errors, lock):
    """One export, saved as a browser would; its timings, size and the votes its manifest counts."""
    began = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=600)
    record = {"path": path, "status": None, "bytes": 0, "first_byte_s": None, "seconds": None, "votes": None}
    try:
        conn.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "vi"})
        answer = conn.getresponse()
        record["status"] = answer.status
        record["first_byte_s"] = round(time.monotonic() - began, 3)
        with open(target, "wb") as out:
            while True:
                chunk = answer.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
                record["bytes"] += len(chunk)
        record["seconds"] = round(time.monotonic() - began, 3)
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}")
        with zipfile.ZipFile(target) as archive:
            record["votes"] = json.loads(archive.read("manifest.json"))["counts"]["votes"]
    except (OSError, http.client.HTTPException, RuntimeError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        with lock:
            errors.append(f"export {path}: {type(exc).__name__}: {exc}")
    finally:
        conn.close()
        if os.path.exists(target):
            os.remove(target)
    return record

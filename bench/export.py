"""Export benchmark: every raw vote out as CSV, the auditor's verifier, the Merkle tree's appender, ingest beside it.

On the cached year of ``bench/yeardata.py`` (10 million votes, made once under
``bench/work/cache/`` and shared with ``bench/scores.py``), one run measures
and writes to ``bench/export.json``:

- ``merkle_append_votes_per_s``: the whole year appended to the votes tree
  (``server.ledger.log.catch_up``) in a copy of the cached year made for the
  run (the cache itself is never written: ``scores.py`` reads it);
- ``csv_votes_per_s`` and ``csv_peak_rss_mb``: ``hailong export --format csv``
  of all of it from that copy, a real process; its peak RSS is the kernel's
  (``wait4``), sampled along the way too to show it stays flat (targets
  ≥ 150,000 votes/s, ≤ 200 MB);
- ``sqlite3_cli_votes_per_s``: the ``sqlite3`` command-line tool's own CSV
  output of the same rows and columns, for comparison;
- ``verify_votes_per_s``: the standalone verifier ``tools/verify.py`` on a
  bundle of a million properly signed votes (a second cached year whose
  votes carry real Ed25519 signatures of real tablet keys; its bundle is
  cached beside it while the export, ledger and protocol code is unchanged);
- ``ingest_with_tree_votes_per_s``: the ingest bench's timed run
  (``bench/ingest.py``'s parts: a million preloaded votes, 12 tablets
  enrolled over HTTP, pre-signed batches, a real ``hailong serve``) while a
  real ``hailong jobs`` appends the new votes to the tree, against the 8,000
  target and the same run without ``hailong jobs`` just before.

Each figure is printed with the target or the same-run figure it is compared
with, and the machine's load (``uptime``) before the run.

Example: .venv/bin/python bench/export.py
         .venv/bin/python bench/export.py --votes 3000 --signed-votes 500 --preload 2000 --ingest-votes 2400 \\
             --cache /tmp/c --work-dir /tmp/w --results /tmp/e.json      # a smoke run
"""

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import PYTHONPATH, ROOT, WORK, fresh_work_dir, ingest, report, timed_run, yeardata  # noqa: E402
from devtools.processes import BIN, Jobs  # noqa: E402
from server import storage  # noqa: E402
from server.ledger import keys, log  # noqa: E402
from server.scoring import rollups  # noqa: E402
from server.settings import DEFAULTS  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "export.json")
TARGETS = {"csv_votes_per_s": 150_000, "csv_peak_rss_mb": 200, "ingest_with_tree_votes_per_s": report.TARGET}
SIGNED_VOTES = 1_000_000
# What a cached bundle depends on: when any of these changes, the signed year is exported again.
BUNDLE_CODE = ("server/ledger/*.py", "server/exports/*.py", "server/storage/ledger.py", "server/storage/exports.py",
               "server/storage/votes.py", "server/manage/exports.py", "server/commands/export.py",
               "migrations/*.py", "device_client/protocol.py")
# The rows and cells of a votes export (contract §5, the same tables server/storage/exports.py reads) as the
# sqlite3 tool writes them itself: codes, flags and reviews as SQL, no escaping of spreadsheet formulas.
SQLITE3_QUERY = """
SELECT l.idx AS leaf_index, v.uuid AS vote_id, v.device_id AS device, v.seq, c.code AS counter, s.code AS staff,
       u.code AS unit, cu.code AS counter_unit, v.rating, v.reasons, v.ticket, v.local_time, v.received_at,
       v.counted_at, CASE v.time_corrected WHEN 1 THEN 'true' ELSE 'false' END AS time_corrected,
       v.clock_offset_ms, v.scale_version,
       CASE WHEN v.flags IS NULL OR v.flags = '' THEN '[]' ELSE '["' || replace(v.flags, ',', '","') || '"]' END
         AS flags,
       COALESCE((SELECT json_group_array(json_object('flag', f.id, 'kind', f.kind, 'status', f.status,
                                                     'reason', f.review_reason, 'reviewed_at', f.reviewed_at))
                 FROM flag_votes fv JOIN flags f ON f.id = fv.flag_id WHERE fv.vote_id = v.id), '[]') AS review,
       v.signature
FROM votes v
JOIN log_leaves l ON l.tree = 'votes' AND l.row_id = v.id
JOIN counters c ON c.id = v.counter_id
JOIN staff s ON s.id = v.staff_id
LEFT JOIN units u ON u.id = v.unit_id
LEFT JOIN units cu ON cu.id = v.counter_unit_id
WHERE l.idx < {size}
ORDER BY v.id;
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=yeardata.RECIPE["votes"], help="Votes in the cached year.")
    parser.add_argument("--signed-votes", type=int, default=SIGNED_VOTES,
                        help="Properly signed votes in the bundle the verifier checks.")
    parser.add_argument("--preload", type=int, default=1_000_000, help="Votes the ingest run's database holds.")
    parser.add_argument("--ingest-votes", type=int, default=120_000,
                        help="Votes sent in each ingest run (without, then with hailong jobs).")
    parser.add_argument("--ingest-devices", type=int, default=12, help="Tablets enrolled for the ingest runs.")
    parser.add_argument("--cache", default=yeardata.CACHE, help="Where the cached years live.")
    parser.add_argument("--work-dir", default=os.path.join(WORK, "export"),
                        help="Where the run works (default bench/work/export/, emptied first; about 10 GB at"
                        " the full size while it runs; its logs are left there).")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder (the year's copy with its tree).")
    parser.add_argument("--results", default=RESULTS, help="Where to write the results (default bench/export.json).")
    return parser.parse_args(argv)


# -- running and measuring a child process ------------------------------------------------------------


# Started between the bench and the measured program: a child forked from the bench itself would carry
# the bench's own resident memory into its peak (Linux keeps the pre-exec high-water mark in ru_maxrss),
# so a small Python without site forks it instead, waits for it and writes its rusage to argv[1].
_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(argv, *, out_path=None, stdin_text=None, log_path=None, env=None):
    """Run ``argv`` to its end; returns its exit code, wall seconds, peak RSS and RSS along the way.

    The peak is the kernel's (``ru_maxrss`` of the program alone, see
    ``_LAUNCHER``); a thread samples its ``VmRSS`` every 0.2 s meanwhile, so
    the result also says whether memory grew with the rows or stayed flat.
    """
    err = open(log_path, "wb") if log_path else subprocess.DEVNULL
    stdout = open(out_path, "wb") if out_path else subprocess.DEVNULL
    handle, usage_path = tempfile.mkstemp(prefix="bench-rusage-")
    os.close(handle)
    try:
        started = time.perf_counter()
        launcher = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, usage_path, *argv], stdout=stdout,
                                    stderr=err, stdin=subprocess.PIPE if stdin_text else subprocess.DEVNULL,
                                    env={**os.environ, **(env or {})})
        samples, done = [], threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(launcher.pid, started, samples, done), daemon=True)
        sampler.start()
        if stdin_text:
            launcher.stdin.write(stdin_text.encode())
            launcher.stdin.close()
        exit_code = launcher.wait()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    finally:
        for handle in (err, stdout):
            if handle is not subprocess.DEVNULL:
                handle.close()
    with open(usage_path, encoding="ascii") as handle:
        max_kb, cpu_s = handle.read().split()
    os.remove(usage_path)
    return {"exit": exit_code, "seconds": round(seconds, 3), "peak_rss_mb": round(int(max_kb) / 1024, 1),
            "cpu_s": round(float(cpu_s), 2), "rss_mb_along_the_way": _rss_profile(samples, seconds)}


def _sample_rss(launcher_pid, started, samples, done):
    """``(seconds, MB)`` of the launcher's child's VmRSS, every 0.2 s until ``done``."""
    child = None
    while not done.wait(0.2):
        try:
            if child is None:
                with open(f"/proc/{launcher_pid}/task/{launcher_pid}/children", encoding="ascii") as handle:
                    pids = handle.read().split()
                child = int(pids[0]) if pids else None
                if child is None:
                    continue
            with open(f"/proc/{child}/status", encoding="ascii") as status:
                kb = next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), None)
        except OSError:
            return
        if kb is not None:
            samples.append((time.perf_counter() - started, kb / 1024))


def _rss_profile(samples, seconds):
    """RSS (MB) at 10%, 25%, 50%, 75% and 90% of the run: equal figures mean flat memory."""
    if not samples:
        return {}
    profile = {}
    for share in (10, 25, 50, 75, 90):
        moment = seconds * share / 100
        profile[f"{share}%"] = round(min(samples, key=lambda s: abs(s[0] - moment))[1], 1)
    return profile


def hailong_argv(instance, database, *args):
    return [os.path.join(BIN, "hailong"), "--instance", instance, "--database", database, *map(str, args)]


def migrate(instance, database):
    """``hailong migrate`` with ``instance`` as the instance folder, which then holds the log's key."""
    os.makedirs(instance, mode=0o700, exist_ok=True)  # migrate writes into an instance folder that exists
    hailong(instance, database, "migrate")
    keys.ensure_key(instance)  # made by migrate too; never overwritten


def hailong(instance, database, *args):
    """Run this tree's ``hailong`` on ``database`` with its own instance folder (key, ticket key)."""
    done = subprocess.run(hailong_argv(instance, database, *args), capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"hailong {' '.join(map(str, args))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def manifest_of(bundle):
    """The manifest of a bundle, a zip or a folder."""
    if zipfile.is_zipfile(bundle):
        with zipfile.ZipFile(bundle) as archive:
            return json.loads(archive.read("manifest.json"))
    with open(os.path.join(bundle, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def size_of(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(p) for p in glob.glob(os.path.join(path, "**"), recursive=True) if os.path.isfile(p))
    return os.path.getsize(path)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    else:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


# -- the steps ------------------------------------------------------------------------------------------


def merkle_append(year, work, instance, say):
    """A copy of the cached year, migrated, with its whole votes tree appended; returns (copy, figures)."""
    copy = os.path.join(work, "year-with-tree.db")
    started = time.perf_counter()
    yeardata.copy_of(year, copy)
    migrate(instance, copy)
    say(f"  copied and migrated the cached year in {time.perf_counter() - started:.0f} s")
    db = storage.connect(copy)
    try:
        total = db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
        step = max(100_000, total // 10)
        appended, started = 0, time.perf_counter()
        while True:
            done = log.catch_up(db, "votes", limit=step, chunk=DEFAULTS["LOG_CHUNK_LEAVES"])
            appended += done
            if not done:
                break
            say(f"  tree: {appended:,} of {total:,} votes appended ({time.perf_counter() - started:.0f} s)")
        seconds = time.perf_counter() - started
        state = log.tree_state(db, "votes")
    finally:
        db.close()
    if state["size"] != total:
        raise RuntimeError(f"the tree has {state['size']:,} leaves for {total:,} votes")
    return copy, {"votes": appended, "seconds": round(seconds, 2), "votes_per_s": round(appended / seconds),
                  "tree_size": state["size"], "root": state["root"].hex(), "db_bytes": size_of(copy)}


def csv_export(database, instance, work, say):
    """``hailong export --format csv`` of every vote, a real process; the bundle is removed afterwards."""
    bundle = os.path.join(work, "votes-csv.zip")
    run = run_measured(hailong_argv(instance, database, "export", "--format", "csv", "-o", bundle),
                       log_path=os.path.join(work, "export.log"))
    if run["exit"] != 0:
        raise RuntimeError(f"hailong export failed ({run['exit']}):\n{tail(os.path.join(work, 'export.log'))}")
    manifest = manifest_of(bundle)
    votes = manifest["counts"]["votes"]
    run.update(votes=votes, votes_per_s=round(votes / run["seconds"]), bundle_bytes=size_of(bundle),
               votes_csv_bytes=manifest["files"].get("votes.csv", {}).get("bytes"),
               proof_lines=manifest["files"].get("proof.txt", {}).get("rows"))
    say(f"  hailong export: {votes:,} votes in {run['seconds']:.1f} s, bundle {run['bundle_bytes'] / 1e9:.2f} GB,"
        f" peak RSS {run['peak_rss_mb']} MB")
    remove(bundle)
    return run


def sqlite3_export(database, size, work, say):
    """The sqlite3 tool's own CSV output (``.mode csv``, ``.once``) of the same rows and columns."""
    out = os.path.join(work, "sqlite3.csv")
    script = f".headers on\n.mode csv\n.once {out}\n{SQLITE3_QUERY.format(size=int(size))}"
    run = run_measured(["sqlite3", "-readonly", database], stdin_text=script,
                       log_path=os.path.join(work, "sqlite3.log"))
    if run["exit"] != 0:
        raise RuntimeError(f"sqlite3 failed ({run['exit']}):\n{tail(os.path.join(work, 'sqlite3.log'))}")
    with open(out, "rb") as handle:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1
    run.update(rows=rows, votes_per_s=round(rows / run["seconds"]), csv_bytes=os.path.getsize(out))
    say(f"  sqlite3 -csv: {rows:,} rows in {run['seconds']:.1f} s")
    remove(out)
    return run


def code_fingerprint():
    digest = hashlib.sha256()
    for pattern in BUNDLE_CODE:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            digest.update(os.path.relpath(path, ROOT).encode() + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def signed_bundle(signed_year, recipe, cache, work, say):
    """The bundle of the signed year (its tree caught up, exported once by ``hailong export``), cached.

    Made again only when the signed year's recipe or the code a bundle
    depends on (``BUNDLE_CODE``) changes; the export runs on a copy, so the
    cached signed year stays as it was made.
    """
    bundle = os.path.join(cache, f"bundle-{recipe['votes']}-signed.zip")
    stamp = bundle + ".recipe.json"
    want = json.dumps({"year": recipe, "code": code_fingerprint()}, sort_keys=True)
    if os.path.exists(bundle) and os.path.exists(stamp) and open(stamp).read() == want:
        return bundle
    for leftover in (bundle, stamp):
        if os.path.exists(leftover):
            os.remove(leftover)
    started = time.perf_counter()
    say(f"exporting the signed year into {bundle} (once; reused while {os.path.basename(stamp)} matches) ...")
    copy = yeardata.copy_of(signed_year, os.path.join(work, "signed.db"))
    instance = os.path.join(work, "signed-instance")
    migrate(instance, copy)
    hailong(instance, copy, "export", "--format", "csv", "-o", bundle + ".tmp")
    os.replace(bundle + ".tmp", bundle)
    with open(stamp, "w") as handle:
        handle.write(want)
    remove(copy)
    say(f"  {manifest_of(bundle)['counts']['votes']:,} signed votes exported in {time.perf_counter() - started:.0f} s")
    return bundle


def verify(bundle, work, say):
    """``tools/verify.py`` on the bundle, a real process with this Python (it needs only PyNaCl)."""
    run = run_measured([sys.executable, os.path.join(ROOT, "tools", "verify.py"), bundle],
                       out_path=os.path.join(work, "verify.out"), log_path=os.path.join(work, "verify.log"))
    if run["exit"] != 0:
        raise RuntimeError(f"tools/verify.py found problems in a clean bundle ({run['exit']}):\n"
                           f"{tail(os.path.join(work, 'verify.out'))}{tail(os.path.join(work, 'verify.log'))}")
    votes = manifest_of(bundle)["counts"]["votes"]
    run.update(votes=votes, votes_per_s=round(votes / run["seconds"]), bundle_bytes=size_of(bundle))
    say(f"  tools/verify.py: {votes:,} votes in {run['seconds']:.1f} s, peak RSS {run['peak_rss_mb']} MB")
    return run


def ingest_with_tree(args, work, say):
    """The ingest bench's timed run without, then with ``hailong jobs`` appending to the tree."""
    ingest_args = ingest.parse_args(list(map(str, [
        "--votes", args.ingest_votes, "--preload", args.preload, "--devices", args.ingest_devices, "--no-profile",
        "--work-dir", os.path.join(work, "ingest")])))
    ingest_args.configs = ingest_args.configs * 2  # the same configuration twice: without, then with jobs
    ingest_args.work_dir = fresh_work_dir(ingest_args.work_dir)
    database = os.path.join(ingest_args.work_dir, "bench.db")
    loaded, devices = ingest.prepare(ingest_args, database, ingest_args.work_dir)
    started = time.perf_counter()
    preloaded_tree = jobs_work_done(database)
    preload_append_s = time.perf_counter() - started
    say(f"  tree and rollups of the preloaded {preloaded_tree:,} votes made in {preload_append_s:.1f} s")
    (workers, threads, clients), per_device = ingest_args.configs[0], ingest_args.per_device
    bare = timed_run.timed_run(database, devices, workers, threads, clients, 0, per_device,
                               ingest_args.batch_size, ingest_args.max_seconds)
    say("  without hailong jobs:" + report.describe(bare)[1:])
    jobs_work_done(database)  # the first run's votes: hailong jobs starts with nothing waiting
    jobs_log = os.path.join(ingest_args.work_dir, "jobs.log")
    with Jobs(database, env={"PYTHONPATH": PYTHONPATH}, log_path=jobs_log):
        with_jobs = timed_run.timed_run(database, devices, workers, threads, clients, per_device, per_device,
                                        ingest_args.batch_size, ingest_args.max_seconds)
        ended = time.perf_counter()
        lag = caught_up(database, 120)
        lag = round(time.perf_counter() - ended, 1) if lag else None
    say("  with hailong jobs:   " + report.describe(with_jobs)[1:])
    say(f"  the tree held every vote {lag} s after the last batch was acknowledged" if lag is not None else
        "  !! the tree did not catch up within 120 s of the run")
    sent_per_device = ingest_args.batch_size * per_device * 2
    check = timed_run.verify_database(database, devices, sent_per_device,
                                      loaded["votes"] + len(devices) * sent_per_device)
    with open(jobs_log, encoding="utf-8", errors="replace") as handle:
        jobs_errors = [line.rstrip() for line in handle if "Traceback" in line or " ERROR " in line][:5]
    remove(database)
    return {"with_jobs": with_jobs, "without_jobs": bare, "tree_caught_up_s_after_run": lag,
            "preload": loaded, "preload_tree_append_votes_per_s": round(preloaded_tree / preload_append_s),
            "database_check": check, "jobs_errors": jobs_errors,
            "settings": {"jobs_log_append_seconds": jobs_setting("JOBS_LOG_APPEND_SECONDS"),
                         "log_chunk_leaves": jobs_setting("LOG_CHUNK_LEAVES")}}


def jobs_work_done(database):
    """Append to the votes tree and roll up whatever is waiting, in this process; returns the leaves added."""
    db = storage.connect(database)
    try:
        appended = log.catch_up(db, "votes")
        while True:
            done = rollups.roll_up(db, DEFAULTS["TIMEZONE"], chunk=200_000)
            if not done["votes"] and not done["pairs"]:
                return appended
    finally:
        db.close()


def jobs_setting(name):
    return int(os.environ.get(f"HAILONG_{name}", DEFAULTS[name]))


def caught_up(database, timeout):
    """Wait until the votes tree holds every vote; returns whether it did within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    db = storage.connect(database)
    try:
        while True:
            votes = db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
            if log.tree_state(db, "votes")["size"] >= votes:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
    finally:
        db.close()


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def uptime():
    done = subprocess.run(["uptime"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else f"load average: {os.getloadavg()}"


# -- the run --------------------------------------------------------------------------------------------


def main(argv=None):
    sys.stdout.reconfigure(line_buffering=True)  # progress shows even when piped to a file
    args = parse_args(argv)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    print(f"export bench: {uptime()} ({os.cpu_count()} cores)")
    work = fresh_work_dir(args.work_dir)
    instance = os.path.join(work, "instance")
    # Every hailong this run starts (the ingest run's serve and jobs too) keeps its key in the work folder.
    os.environ["HAILONG_INSTANCE"] = instance
    recipe = dict(yeardata.RECIPE, votes=args.votes)
    signed_recipe = dict(yeardata.RECIPE, votes=args.signed_votes, signed=True)
    year = yeardata.cached_year(recipe, args.cache)
    signed_year = yeardata.cached_year(signed_recipe, args.cache)
    bundle = signed_bundle(signed_year, signed_recipe, args.cache, work, print)

    print(f"appending the year's {args.votes:,} votes to the votes tree, in a copy of the cache ...")
    copy, merkle = merkle_append(year, work, instance, print)
    print("exporting them all ...")
    csv_run = csv_export(copy, instance, work, print)
    cli_run = sqlite3_export(copy, merkle["tree_size"], work, print)
    if not args.keep:
        remove(copy)
    print(f"verifying the bundle of {args.signed_votes:,} signed votes ...")
    verify_run = verify(bundle, work, print)
    print(f"ingest with the tree in place ({args.ingest_votes:,} votes a run) ...")
    ingest_run = ingest_with_tree(args, work, print)
    total_s = time.perf_counter() - started

    figures = {
        "csv_votes_per_s": csv_run["votes_per_s"], "csv_peak_rss_mb": csv_run["peak_rss_mb"],
        "sqlite3_cli_votes_per_s": cli_run["votes_per_s"], "verify_votes_per_s": verify_run["votes_per_s"],
        "merkle_append_votes_per_s": merkle["votes_per_s"],
        "ingest_with_tree_votes_per_s": ingest_run["with_jobs"]["votes_per_s"],
    }
    verdicts = {
        "csv_votes_per_s": figures["csv_votes_per_s"] >= TARGETS["csv_votes_per_s"],
        "csv_peak_rss_mb": figures["csv_peak_rss_mb"] <= TARGETS["csv_peak_rss_mb"],
        "ingest_with_tree_votes_per_s": figures["ingest_with_tree_votes_per_s"] >= TARGETS[
            "ingest_with_tree_votes_per_s"],
    }
    complete = (csv_run["votes"] == args.votes and cli_run["rows"] == args.votes
                and ingest_run["database_check"]["ok"] and ingest_run["tree_caught_up_s_after_run"] is not None)
    data = {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": report.machine(round(load, 2)),
        "uptime": uptime(),
        "code": report.code_version(),
        "data": {"votes": args.votes, "signed_votes": args.signed_votes, "ingest_votes_per_run": args.ingest_votes,
                 "ingest_preload": args.preload},
        **figures,
        "merkle_append": merkle,
        "csv_export": csv_run,
        "sqlite3_cli": cli_run,
        "verify": verify_run,
        "ingest": ingest_run,
        "run_seconds": round(total_s),
        "targets": TARGETS,
        "verdict": "PASS" if all(verdicts.values()) and complete else "BELOW",
    }
    print_table(data, ingest_run)
    report.write_results(data, args.results)
    print(f"Written to {args.results} ({total_s / 60:.1f} min in all).")
    return 0 if complete else 1


def print_table(data, ingest_run):
    bare = ingest_run["without_jobs"]["votes_per_s"]
    rows = [
        ("hailong export --format csv, every vote, votes/s", f"{data['csv_votes_per_s']:,}",
         f"target ≥ {TARGETS['csv_votes_per_s']:,}"),
        ("  its peak RSS, MB", f"{data['csv_peak_rss_mb']:,}", f"target ≤ {TARGETS['csv_peak_rss_mb']}"),
        ("  its RSS at 10/50/90% of the run, MB",
         "/".join(str(data["csv_export"]["rss_mb_along_the_way"].get(k)) for k in ("10%", "50%", "90%")), ""),
        ("sqlite3 tool's CSV of the same rows and columns, votes/s", f"{data['sqlite3_cli_votes_per_s']:,}",
         f"export x{data['csv_votes_per_s'] / max(data['sqlite3_cli_votes_per_s'], 1):.2f}"),
        ("tools/verify.py, bundle of signed votes, votes/s", f"{data['verify_votes_per_s']:,}",
         f"{data['verify']['votes']:,} votes"),
        ("Merkle tree append (log.catch_up), votes/s", f"{data['merkle_append_votes_per_s']:,}",
         f"{data['merkle_append']['votes']:,} votes"),
        ("ingest, signed votes/s, while hailong jobs appends", f"{data['ingest_with_tree_votes_per_s']:,}",
         f"target ≥ {TARGETS['ingest_with_tree_votes_per_s']:,}"),
        ("  the same run without hailong jobs, votes/s", f"{bare:,}",
         f"with jobs x{data['ingest_with_tree_votes_per_s'] / max(bare, 1):.2f}"),
    ]
    print()
    print(f"{'figure':60} {'value':>14} {'compared with':>22}")
    for name, value, against in rows:
        print(f"{name:60} {value:>14} {against:>22}")
    print(f"tree caught up {ingest_run['tree_caught_up_s_after_run']} s after the ingest run;"
          f" {data['uptime']}; verdict {data['verdict']}")


if __name__ == "__main__":
    # bench/ingest.py's handler: SIGTERM unwinds like Ctrl-C here (servers and jobs are stopped), forked helpers
    # just go. Its main process is this one: bench.ingest was imported here, at start.
    signal.signal(signal.SIGTERM, ingest._on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server and jobs were stopped", file=sys.stderr)
        sys.exit(130)

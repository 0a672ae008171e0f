"""The ``hailong-device`` command, run on each tablet.

  hailong-device enroll --link LINK | --server URL --code CODE [--data-dir DIR]
  hailong-device vote --staff CODE --rating N [--reason CODE ...] [--ticket T]
  hailong-device sync [-v]
  hailong-device run [--kiosk-port 8765 | --no-kiosk]
  hailong-device status [--json]

Standard library ``argparse``; Flask is imported only by ``run``, for the
kiosk page. Expected failures print one line and exit 1, never a traceback.
"""

import argparse
import json
import logging
import signal
import sys
import threading

from device_client import identity, protocol, store, sync, tablet as tablet_mod, transport


class UsageError(Exception):
    """Arguments that do not fit together; printed as one ``Error:`` line."""


def _parser():
    parser = argparse.ArgumentParser(prog="hailong-device", description="hailong rating tablet")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="Folder of this tablet's key, identity and outbox (default: $HAILONG_DEVICE_DIR "
        "or the user's data folder).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    enroll = sub.add_parser(
        "enroll", help="Enroll this tablet with a one-time code.",
        epilog="Example: hailong-device enroll --link 'http://10.0.0.5:8000/enroll?code=WJ6EP-ZYGHP'",
    )
    enroll.add_argument("--link", help="The link in the enrollment QR code: <server URL>/enroll?code=CODE.")
    enroll.add_argument("--server", help="Server URL, e.g. http://10.0.0.5:8000 (with --code).")
    enroll.add_argument("--code", help="Code from `hailong device-code` (with --server).")

    vote = sub.add_parser("vote", help="Record one rating; returns once it is stored on the tablet.")
    vote.add_argument("--staff", required=True, help="Staff code of the civil servant rated.")
    vote.add_argument("--rating", required=True, type=int, help="Level of the rating scale, e.g. 4.")
    vote.add_argument("--reason", action="append", default=[], help="Reason code (repeatable).")
    vote.add_argument("--ticket", help="Ticket or dossier number.")

    once = sub.add_parser("sync", help="Refresh the configuration and send what is queued, once.")
    once.add_argument("-v", "--verbose", action="store_true", help="Print each batch.")

    run = sub.add_parser("run", help="Keep syncing in the background until stopped.")
    run.add_argument("--interval", type=float, default=30.0, help="Seconds between scheduled syncs.")
    run.add_argument("--heartbeat", type=float, default=None,
                     help="Seconds between heartbeats (default: what the server's configuration says, else 60).")
    run.add_argument("--server", help="Use this server URL instead of the enrolled one.")
    run.add_argument("--max-backoff", type=float, default=300.0,
                     help="Longest wait in seconds between retries while the server is unreachable.")
    run.add_argument("--kiosk-port", type=int, default=8765,
                     help="Port of the kiosk page on 127.0.0.1 (default 8765).")
    run.add_argument("--no-kiosk", action="store_true", help="Do not serve the kiosk page.")

    status = sub.add_parser("status", help="Queue depth, last sync, clock offset, dead letters.")
    status.add_argument("--json", action="store_true", help="Print JSON.")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    data_dir = args.data_dir or tablet_mod.default_data_dir()
    try:
        return COMMANDS[args.command](args, data_dir) or 0
    except (identity.NotEnrolled, tablet_mod.VoteError, store.NewerOutbox, UsageError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
    except sync.Revoked as exc:
        print(f"Error: this tablet has been revoked ({exc}).", file=sys.stderr)
    except transport.ServerError as exc:
        print(f"Error: the server refused: {exc.message or exc}", file=sys.stderr)
        for field, messages in (exc.fields or {}).items():
            print(f"  {field}: {' '.join(map(str, messages))}", file=sys.stderr)
    except transport.Unreachable as exc:
        print(f"Error: the server is unreachable ({exc}); queued votes stay queued.", file=sys.stderr)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
    return 1


def cmd_enroll(args, data_dir):
    if args.link and (args.server or args.code):
        raise UsageError("Give either --link or --server with --code, not both.")
    if args.link:
        try:
            server, code = protocol.parse_enroll_link(args.link)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.server and args.code:
        server, code = args.server, args.code
    else:
        raise UsageError("Give --link (the link in the enrollment QR code), or --server and --code.")
    tablet = tablet_mod.enroll(data_dir, server, code)
    config = tablet.config
    where = f" at {config['counter']['name']} ({config['unit']['name']})" if config else ""
    print(f"Enrolled as {tablet.device_id}{where}. Data in {data_dir}.")


def cmd_vote(args, data_dir):
    tablet = tablet_mod.Tablet(data_dir)
    vote = tablet.record_vote(args.staff, args.rating, args.reason, args.ticket)
    print(f"Recorded vote #{vote['seq']} ({vote['id']}) for {vote['staff']}: {vote['rating']}.")


def cmd_sync(args, data_dir):
    tablet = tablet_mod.Tablet(data_dir)
    progress = (lambda line: print(line, flush=True)) if args.verbose else None
    sent, config_error = sync.sync_now(tablet, progress)
    status = tablet.status()
    print(f"Sent {sent['votes']} votes and {sent['sessions']} staff events; queue {status['queue_depth']}, "
          f"dead letters {status['dead_letters']}.")
    if config_error:
        print(f"Warning: the configuration was not refreshed ({config_error}).", file=sys.stderr)


def cmd_run(args, data_dir):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s device %(levelname)s %(message)s")
    tablet = tablet_mod.Tablet(data_dir, server=args.server)
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: stop.set())
    print(f"{tablet.device_id} syncing to {tablet.identity['server']}. Ctrl-C to stop.", flush=True)
    kiosk = None
    if not args.no_kiosk:
        from device_client.kiosk import KioskServer  # Flask loads only when the page is served

        try:
            kiosk = KioskServer(data_dir, args.kiosk_port).start()
            print(f"Kiosk page on {kiosk.url}", flush=True)
        except OSError as exc:  # syncing must go on even if the page cannot be served
            print(f"Warning: no kiosk page, port {args.kiosk_port} is not free ({exc}).", flush=True)
    try:
        sync.run_loop(tablet, stop, interval=args.interval, heartbeat_every=args.heartbeat,
                      backoff=sync.Backoff(cap=args.max_backoff))
    finally:
        if kiosk:
            kiosk.stop()
    print("Stopped; queued votes stay queued.")


def cmd_status(args, data_dir):
    tablet = tablet_mod.Tablet(data_dir)
    status = tablet.status()
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return
    offset = status["clock_offset_ms"]
    lines = [
        ("Device", f"{status['device_id']} at counter {status['counter']}"),
        ("Server", status["server"] + ("  (REVOKED)" if status["revoked"] else "")),
        ("Votes recorded", status["last_seq"]),
        ("Queue depth", f"{status['queue_depth']} (delivered, awaiting ack: {status['awaiting_ack']})"),
        ("Oldest unsent", _local(status["oldest_unsent_at"]) or "-"),
        ("Last successful sync", _local(status["last_sync_at"]) or "never"),
        ("Server clock offset", "-" if offset is None else f"{offset:+d} ms"),
        ("Dead letters", status["dead_letters"]),
        ("Staff on duty", status["staff_on_duty"] or "nobody signed in"),
        ("Staff events queued", status["session_events_queued"]),
        ("Last error", (status["last_error"] or {}).get("message", "-")),
    ]
    for label, value in lines:
        print(f"{label + ':':<22} {value}")
    for letter in status["dead_letter_list"]:
        print(f"  dead letter {letter['stream']} #{letter['seq']} {letter['status']}: "
              f"{json.dumps(letter['errors'], ensure_ascii=False)}")


def _local(text):
    """A stored UTC time in the tablet's own time zone, as the person at the counter reads it."""
    if not text:
        return None
    moment = protocol.parse_time(text).astimezone()
    offset = moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f" (UTC{offset[:3]}:{offset[3:]})"


COMMANDS = {
    "enroll": cmd_enroll,
    "vote": cmd_vote,
    "sync": cmd_sync,
    "run": cmd_run,
    "status": cmd_status,
}

if __name__ == "__main__":
    sys.exit(main())

"""A TCP proxy that breaks connections on purpose, for fault tests and the demo.

It sits between tablets and ``hailong serve`` and, for each connection it
accepts, draws one fate from a seeded ``random.Random``:

``pass``
    forward both ways untouched.
``refuse``
    reset the connection before reading a byte: the request never reaches the
    server, as when the network is down.
``drop``
    forward the whole request, wait until the server has *started* answering
    (so it has finished the work: a batch is committed), then close without
    forwarding a byte of the answer. This is the hard case of exactly-once
    delivery: the server has the votes, the tablet does not know it.
``cut``
    forward the response headers and part of the body, then close: the
    tablet sees a 200 whose JSON is cut off, and must not trust it.
``slow``
    forward both ways, but hold the answer back for up to ``latency``
    seconds first: a congested or far-away link. Nothing breaks; a client
    whose timeout is shorter than the delay gives up on an answer that was
    on its way (the server did the work all the same).

Several upstreams (``FaultProxy([8000, 8002])``) are taken in turn, one per
connection, as a round-robin load balancer without health checks does: a
tablet's next request, its retry included, lands on the other server, and a
connection to a dead one is reset (``upstream_down``).

The fate is decided per connection, not per request. That is enough for the
tablet's ``urllib`` client (one connection per request, ``Connection:
close``); on a keep-alive connection a ``drop`` or ``cut`` applies to its
first response and then ends the connection, which a client must survive
anyway.

``offline`` turns every new connection away and cuts the open ones, so a demo
can take a tablet off the network and bring it back. ``stats()`` counts what
was done, including ``lost_2xx``: answers with a 2xx status that the client
never received whole, i.e. work the server did that the client cannot know
about.

Example::

    python -m devtools.faultproxy --listen 8001 --upstream 8000 --drop 0.1 --cut 0.2 --slow 0.1 --latency 2

Standard library only, threads (one per connection and direction): tablets
open few connections, and threads keep blocking socket code easy to follow.
"""

import argparse
import collections
import random
import re
import signal
import socket
import struct
import sys
import threading
import time

FAULTS = ("refuse", "drop", "cut", "slow")
_CHUNK = 65536
_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class FaultProxy:
    """Listen on ``host:port`` (0 picks a free port) and forward to ``upstream_port``.

    ``upstream_port`` may be a list of ports: each connection goes to the
    next one in turn (``stats()["upstreams"]`` counts them per port).

    ``refuse``, ``drop``, ``cut`` and ``slow`` are probabilities (their sum at
    most 1); the rest of the connections pass. A ``slow`` answer waits a
    uniform fraction of ``latency`` seconds. ``seed`` makes the sequence of
    fates repeatable (which connection gets which fate still depends on
    timing).
    """

    def __init__(self, upstream_port, port=0, *, refuse=0.0, drop=0.0, cut=0.0, slow=0.0, latency=1.0, seed=None,
                 host="127.0.0.1", upstream_host="127.0.0.1", connect_timeout=5.0, idle_timeout=120.0):
        self.host, self.port = host, port
        ports = list(upstream_port) if isinstance(upstream_port, (list, tuple)) else [upstream_port]
        self.upstreams = [(upstream_host, int(port)) for port in ports]
        self.upstream = self.upstreams[0]
        self._turn = 0  # the next upstream, advanced by the accept thread only
        self.connect_timeout, self.idle_timeout = connect_timeout, idle_timeout
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts = collections.Counter()
        self._lost = collections.Counter()
        self._per_upstream = collections.Counter()
        self._open = set()
        self._in_flight = 0
        self._offline = False
        self._stopping = threading.Event()
        self._listener = None
        self._thread = None
        self._p = dict.fromkeys(FAULTS, 0.0)
        self.latency = 0.0
        self.configure(refuse=refuse, drop=drop, cut=cut, slow=slow, latency=latency)

    # -- control ---------------------------------------------------------------

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def configure(self, refuse=None, drop=None, cut=None, slow=None, latency=None):
        """Change fault probabilities (and the longest delay) while running (``None`` keeps one); all 0 heals."""
        with self._lock:
            wanted = {"refuse": refuse, "drop": drop, "cut": cut, "slow": slow}
            p = {k: float(self._p[k] if v is None else v) for k, v in wanted.items()}
            if any(v < 0 for v in p.values()) or sum(p.values()) > 1.0 + 1e-9:
                raise ValueError(f"fault probabilities must be >= 0 and sum to at most 1, got {p}")
            if latency is not None and latency < 0:
                raise ValueError(f"latency must be >= 0 seconds, got {latency}")
            self._p = p
            if latency is not None:
                self.latency = float(latency)

    def heal(self):
        """No more faults and back online; connections already open keep their fate."""
        self.configure(0, 0, 0, 0)
        self.offline = False

    @property
    def offline(self):
        """While set, every new connection is reset; setting it also cuts the open ones."""
        return self._offline

    @offline.setter
    def offline(self, value):
        self._offline = bool(value)
        if self._offline:
            with self._lock:
                sockets = list(self._open)
            for sock in sockets:
                _shutdown(sock)

    @property
    def in_flight(self):
        """Connections being forwarded now: a request on its way or its answer coming back.

        The chaos campaign kills a tablet while this is above zero, to be
        sure the kill lands in the middle of a sync.
        """
        with self._lock:
            return self._in_flight

    def stats(self):
        """Counts so far; every connection ends in exactly one of the outcomes.

        ``connections`` = ``offline`` + ``refuse`` + ``upstream_down`` (the
        server's port was dead) + ``pass`` + ``drop`` + ``cut`` + ``slow`` +
        ``no_answer`` (drawn to drop, cut or slow, but the server closed
        before answering). A fault is counted only when it was applied, so the
        figures say what the client really met. ``lost_2xx`` counts dropped
        or cut answers with a 2xx status; ``lost`` splits them by
        ``"METHOD /path status"``.
        """
        with self._lock:
            counts = dict.fromkeys(("connections", "offline", "refuse", "upstream_down", "pass", "drop", "cut",
                                    "slow", "no_answer", "lost_2xx"), 0)
            counts.update(self._counts)
            counts["lost"] = dict(self._lost)
            if len(self.upstreams) > 1:
                counts["upstreams"] = dict(self._per_upstream)
            return counts

    def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.settimeout(0.2)  # so the accept loop notices stop()
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, cut every open connection, wait for the accept loop."""
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            _shutdown(sock)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the work --------------------------------------------------------------

    def _count(self, key, n=1):
        with self._lock:
            self._counts[key] += n

    def _decide(self):
        """Called from the accept thread only, so the seeded sequence is reproducible."""
        with self._lock:
            p = dict(self._p)
        draw, fraction = self._rng.random(), self._rng.random()
        for fault in FAULTS:
            if draw < p[fault]:
                return fault, fraction
            draw -= p[fault]
        return "pass", fraction

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            client.settimeout(None)
            self._count("connections")
            if self._offline:
                self._count("offline")
                _reset(client)
                continue
            fate, fraction = self._decide()
            if fate == "refuse":
                self._count("refuse")
                _reset(client)
                continue
            upstream = self.upstreams[self._turn % len(self.upstreams)]
            self._turn += 1
            threading.Thread(
                target=self._serve, args=(client, fate, fraction, upstream), name="faultproxy-conn", daemon=True
            ).start()

    def _serve(self, client, fate, fraction, address):
        upstream = None
        self._track(client)
        with self._lock:
            self._in_flight += 1
        try:
            try:
                with self._lock:
                    self._per_upstream[address[1]] += 1
                upstream = socket.create_connection(address, timeout=self.connect_timeout)
            except OSError:
                self._count("upstream_down")
                _reset(client)
                return
            self._track(upstream)
            for sock in (client, upstream):
                sock.settimeout(self.idle_timeout)
            request_line = []
            pump = threading.Thread(
                target=self._pump_request, args=(client, upstream, request_line),
                name="faultproxy-request", daemon=True,
            )
            pump.start()
            if fate == "pass":
                self._count("pass")
                _copy(upstream, client)
            else:
                self._break_response(upstream, client, fate, fraction, request_line)
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    self._untrack(sock)
                    _shutdown(sock)
                    sock.close()
            with self._lock:
                self._in_flight -= 1

    def _pump_request(self, client, upstream, request_line):
        """Client to server, until the client is done; notes the first request line."""
        head = b""
        try:
            while True:
                data = client.recv(_CHUNK)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return
                if not request_line:
                    head += data
                    if b"\r\n" in head:
                        method, path = (head.split(b"\r\n", 1)[0].split(b" ") + [b"", b""])[:2]
                        request_line.append(f"{method.decode('latin-1')} {path.decode('latin-1')}")
                upstream.sendall(data)
        except OSError:
            return

    def _break_response(self, upstream, client, fate, fraction, request_line):
        """Read the response headers, then forward nothing (drop), part of it (cut), or all of it late (slow)."""
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                more = upstream.recv(_CHUNK)
                if not more:
                    break  # the server died mid-request: the client gets nothing either way
                data += more
        except OSError:
            pass
        headers, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            self._count("no_answer")
            return
        status = _STATUS.match(headers)
        if fate == "slow":
            self._count("slow")
            time.sleep(fraction * self.latency)
            try:
                client.sendall(data)
            except OSError:
                return
            _copy(upstream, client)
            return
        with self._lock:
            self._counts[fate] += 1
            if status and status.group(1).startswith(b"2"):
                self._counts["lost_2xx"] += 1
                label = request_line[0] if request_line else "?"
                self._lost[f"{label} {status.group(1).decode()}"] += 1
        if fate == "drop":
            return
        length = _LENGTH.search(headers)
        total = int(length.group(1)) if length else len(body)
        try:
            if total == 0:  # nothing to cut in the body: cut the headers instead
                client.sendall(headers[: int(len(headers) * fraction)])
                return
            keep = min(int(total * fraction), total - 1)
            while len(body) < keep:
                more = upstream.recv(_CHUNK)
                if not more:
                    break
                body += more
            client.sendall(headers + sep + body[:keep])
        except OSError:
            return

    def _track(self, sock):
        with self._lock:
            self._open.add(sock)

    def _untrack(self, sock):
        with self._lock:
            self._open.discard(sock)


def _copy(source, target):
    try:
        while True:
            data = source.recv(_CHUNK)
            if not data:
                return
            target.sendall(data)
    except OSError:
        return


def _shutdown(sock):
    """Wake any thread blocked on the socket; closing alone does not on Linux."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reset(sock):
    """Close with RST, as a dead network path or a refusing host looks to the client."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def main(argv=None):
    """Run a fault proxy until Ctrl-C or SIGTERM; SIGUSR1 toggles offline.

    Example: python -m devtools.faultproxy --listen 8001 --upstream 8000 --drop 0.1 --cut 0.2
    """
    parser = argparse.ArgumentParser(prog="python -m devtools.faultproxy", description=main.__doc__)
    parser.add_argument("--listen", type=int, required=True, help="Port to listen on (127.0.0.1).")
    parser.add_argument("--upstream", type=int, required=True, help="Port of the server (127.0.0.1).")
    for fault in FAULTS:
        parser.add_argument(f"--{fault}", type=float, default=0.0, help=f"Probability of '{fault}'.")
    parser.add_argument("--latency", type=float, default=1.0, help="Longest delay of a 'slow' answer, in seconds.")
    parser.add_argument("--seed", type=int, help="Seed of the fault draws (repeatable runs).")
    parser.add_argument("--every", type=float, default=10.0, help="Seconds between counter lines.")
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.upstream, args.listen, refuse=args.refuse, drop=args.drop, cut=args.cut,
                       slow=args.slow, latency=args.latency, seed=args.seed)
    stop = threading.Event()

    def toggle(*_):
        proxy.offline = not proxy.offline
        print(f"offline: {proxy.offline}", flush=True)

    # A background job started by a script ignores SIGINT, so SIGTERM must stop us too.
    for name, handler in (("SIGINT", lambda *_: stop.set()), ("SIGTERM", lambda *_: stop.set()),
                          ("SIGUSR1", toggle)):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)
    with proxy:
        print(f"faultproxy {proxy.url} -> 127.0.0.1:{args.upstream}; Ctrl-C to stop.", flush=True)
        last = {}
        while not stop.wait(args.every):
            line = {k: v for k, v in proxy.stats().items() if v}
            if line != last:
                print(line, flush=True)
                last = line
    print(f"stopped: {proxy.stats()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

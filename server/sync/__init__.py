"""The device side of the server: what tablets call, and nothing people call.

- ``enrollment``: a one-time code and a proof of key possession make a device.
- ``configuration``: what a tablet caches to work offline (roster, scale, kiosk timings).
- ``heartbeat``: a tablet's report of its queue and clock.
- ``streams``: a short description of each stream of signed items (votes,
  staff sign-in events), all the pipeline needs to know about it.
- ``pipeline``: one path for every stream: check each item (rules, origin,
  signature), store with dedupe, conflicts, gaps and the contiguous
  acknowledgement (``server/storage/batches.py``), answer.
- ``rate``: one token bucket per device, kept on its row.

The wire format is docs/protocol.md; the views are server/api/devices.py.
"""

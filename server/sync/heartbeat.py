"""Heartbeats: a tablet's report of its queue, version and clock, between batches."""

from server.storage import devices, timestamp, write_transaction
from server.sync import rate
from server.sync.pipeline import clock_offset_ms


def heartbeat(db, device, data, config, now):
    """Record the report (it spends a request token); answers the server time and the votes' ack."""
    with write_transaction(db):
        devices.lock(db, device["id"])  # the bucket's read and write, one server at a time
        rate.take(db, device["id"], config, now)
        devices.record_heartbeat(db, device["id"], data, clock_offset_ms(now, data["device_time"]))
        ack_seq = devices.get_device(db, device["id"])["ack_seq"]
    return {"server_time": timestamp(), "ack_seq": ack_seq}

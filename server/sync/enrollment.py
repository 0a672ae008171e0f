"""Enrollment: a one-time code and a proof of key possession make a tablet a device."""

import datetime as dt

from device_client.protocol import Verifier, enroll_proof_bytes, parse_time
from server.errors import Conflict, Invalid
from server.storage import devices, now_utc, org, timestamp, write_transaction

# How long after the first answer a lost one may be asked for again: long
# enough to notice a failed enroll and run it once more, short enough that a
# copied request is worth little. After it, a new code.
RETRY_MINUTES = 10


def enroll(db, data):
    """Register a tablet's public key with a one-time code; returns id and token.

    Retrying is safe: if the answer to an enrollment was lost, the tablet sends
    the same code and key again and gets the same device with a fresh token
    (the earlier one stops working), as long as no call was ever made with
    the token, a configuration fetch included, and within ``RETRY_MINUTES``
    of the first answer. So a replayed request cannot take over a tablet
    that is working, nor one enrolled a while ago.
    """
    row = devices.find_enrollment_code(db, data["code"])
    if row is None:
        raise Invalid("This enrollment code does not exist.", {"code": ["Unknown code."]}, code="invalid_code")
    try:
        verifier = Verifier(data["public_key"])
    except ValueError:
        raise Invalid("The public key is not valid.", {"public_key": ["Not a base64 Ed25519 key."]}) from None
    if not verifier.verify(enroll_proof_bytes(data["code"], data["public_key"]), data["proof"]):
        raise Invalid("The proof does not verify with the public key.", {"proof": ["Signature does not verify."]})
    if parse_time(row["expires_at"]) < now_utc():
        raise Invalid("This enrollment code has expired; ask for a new one.", {"code": ["Expired."]},
                      code="code_expired")
    if row["used_at"]:
        since = timestamp(now_utc() - dt.timedelta(minutes=RETRY_MINUTES))
        enrolled = devices.reissue_unused_token(db, row, data["public_key"], since)
    else:
        enrolled = devices.enroll_device(db, row, data["public_key"], data["app_version"])
    if enrolled is None:
        raise Conflict("This enrollment code has already been used.", {"code": ["Already used."]},
                       code="code_used")
    device_id, token = enrolled
    counter = org.counter_with_unit(db, row["counter_id"])
    return {"device_id": device_id, "token": token, "counter": counter["code"], "server_time": timestamp()}


def authenticate(db, token):
    """The active device whose token this is, noting the token's first use; None otherwise.

    The first authenticated call of any kind ends the window in which a
    replayed enrollment request could swap the token
    (``storage.devices.reissue_unused_token``); it writes once per token,
    every later call only reads. A token swapped by a retry between the read
    and the write is dead.
    """
    device = devices.device_for_token(db, token)
    if device is None or device["status"] != "active":
        return None
    if device["token_used_at"] is None:
        now = timestamp()
        with write_transaction(db):
            if not devices.note_token_used(db, device["id"], token, now):
                return None
        device["token_used_at"] = now
    return device

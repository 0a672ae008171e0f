"""Ticket numbers replaced by a keyed hash, for auditors who must not see them (``--hash-tickets``).

``"hmac-sha256:" + hex(HMAC-SHA256(key, ticket))[:32]``: the same ticket
gives the same text in every export of this server (an auditor can still
see repeats), but without the key nobody can try the few thousand possible
ticket numbers to recover them. The key is 32 random bytes in
``INSTANCE/ticket-key`` (0600), made on first use and never replaced. A
vote so exported can no longer be checked against its signature or leaf.
"""

import hashlib
import hmac
import os

from device_client.private import private_folder
from server.ledger.keys import read_secret, write_new_secret

FILE_NAME = "ticket-key"
PREFIX = "hmac-sha256:"


def ticket_key(instance):
    """The key, made (0600, folder 0700) when missing."""
    path = os.path.join(instance, FILE_NAME)
    private_folder(instance)
    write_new_secret(path)
    key = read_secret(path)
    if key is None:
        raise OSError(f"{path} does not hold a ticket key (the base64 of 32 bytes): move it away to make a new one")
    return key


def hasher(instance):
    """``ticket -> text``: None stays None (no ticket given)."""
    key = ticket_key(instance)

    def hashed(ticket):
        if ticket is None:
            return None
        return PREFIX + hmac.new(key, ticket.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    return hashed

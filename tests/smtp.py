"""A real SMTP server for tests (aiosmtpd, in a thread on a free port) that keeps what arrived.

``MailServer.stop()`` and ``start()`` again on the same port stand for a mail
server that is down for a while.
"""

import email
import email.policy
import threading

from aiosmtpd.controller import Controller

from devtools.processes import HOST, free_port


class MailServer:
    def __init__(self):
        self.port = free_port()
        self.messages = []  # (envelope recipients, parsed message)
        self.refuse = set()  # recipients answered "550 no such user"
        self._arrived = threading.Condition()
        self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append((list(envelope.rcpt_tos), message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def start(self):
        self._controller = Controller(self, hostname=HOST, port=self.port)
        self._controller.start()
        return self

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    def settings(self, **more):
        """Server settings that send mail here (plain SMTP on the loopback, no sign-in)."""
        from server.settings import DEFAULTS

        return {**DEFAULTS, "SMTP_HOST": HOST, "SMTP_PORT": self.port, "SMTP_SECURITY": "none",
                "SMTP_FROM": "Hài lòng <hailong@example.gov.vn>", "SMTP_TIMEOUT_SECONDS": 10, **more}

    def env(self):
        """The same settings as ``HAILONG_*`` variables, for a real ``hailong`` process."""
        return {"HAILONG_SMTP_HOST": HOST, "HAILONG_SMTP_PORT": str(self.port), "HAILONG_SMTP_SECURITY": "none",
                "HAILONG_SMTP_FROM": "Hài lòng <hailong@example.gov.vn>"}

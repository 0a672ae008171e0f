"""The tamper-evident log: RFC 6962 Merkle trees over votes, staff sign-in events and the audit log,
the server's signing key, and signed checkpoints (issue 10; docs/verify.md)."""

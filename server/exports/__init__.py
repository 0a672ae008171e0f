"""Exports for auditors: raw votes and the audit log as verifiable bundles, at any size, in flat memory
(issue 10; docs/verify.md)."""

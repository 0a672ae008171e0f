"""Stand-alone tools for people outside the server: ``verify.py``, the auditor's bundle verifier.

Each tool is one file that needs only Python and the libraries it names,
none of hailong's code, so an auditor can copy it alone (docs/verify.md).
"""

"""Reading JSON from someone we do not trust: the server's API and the kiosk page both use it.

``json.loads`` alone accepts NaN and Infinity, numbers too large to write
back, lone surrogates (``"\\ud800"``, not Unicode text) and any depth – a
100,000-deep array is a ``RecursionError`` in the parser or in whatever walks
the value next. ``parse`` refuses all of these with a readable reason.
"""

import json
import math
import re

from device_client.protocol import SURROGATE

# The deepest body any endpoint takes has 4 levels (a batch: envelope, list,
# vote, reasons); 32 leaves room for later versions and stays far below
# Python's recursion limit (1000), which the JSON parser, marshmallow and the
# encoder that keeps refused items would otherwise meet.
MAX_DEPTH = 32
LONE_SURROGATE = "a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
# Lone surrogates can only come from \uD800-\uDFFF escapes (raw UTF-8 cannot
# encode them), so a body without one needs no search for them.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse(data):
    """``(value, None)`` for UTF-8 JSON text we can take, ``(None, why)`` otherwise."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        return None, TOO_DEEP
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        return None, str(exc)
    problem = _problem(value, check_text=_SURROGATE_ESCAPE.search(data) is not None)
    return (None, problem) if problem else (value, None)


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):  # 1e400 would be Infinity, which JSON cannot write back
        raise ValueError(f"{text} is too large a number")
    return value


def _problem(body, check_text):
    """What makes a parsed value unreadable (too deep, lone surrogates), or None.

    Iterative, so a deep value costs no recursion; about 0.3 ms for a batch of 500 votes.
    """
    level, depth = [body], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return TOO_DEEP
        inner = []
        for node in level:
            if type(node) is dict:
                if check_text and any(SURROGATE.search(key) for key in node):
                    return f"a name holds {LONE_SURROGATE}"
                values = node.values()
            elif type(node) is list:
                values = node
            else:
                values = (node,)
            for value in values:
                if type(value) is dict or type(value) is list:
                    inner.append(value)
                elif check_text and type(value) is str and SURROGATE.search(value):
                    return f"a string holds {LONE_SURROGATE}"
        level = inner
    return None

"""Rating-scale versions: read by anyone who sees units, published with ``scales.write``.

A version says, per level, its value (what a tablet sends as ``rating``),
its labels in Vietnamese and English, whether it counts as satisfied, and
its weight in the 0–100 index; and the reason codes a citizen may pick. A
published version never changes: a new one is published instead, and the
newest is what tablets get in their configuration. Votes keep the version
they were cast with, so a tablet still offline on an older version has its
votes accepted under that version.
"""

import math
import re

from server import audit
from server.errors import N_, Invalid
from server.manage import not_found, require
from server.schemas import CODE_RE
from server.storage import scales, timestamp, write_transaction

_CODE = re.compile(CODE_RE)
MAX_LEVELS = 11  # a 0-10 scale is the largest anyone uses at a counter


def list_scales(db, actor):
    require(actor, "units.read")
    found = scales.list_scales(db)
    for index, scale in enumerate(found):
        scale["current"] = index == 0
    return found


def get_scale(db, actor, version):
    require(actor, "units.read")
    scale = scales.get_scale(db, version) if 0 < version < 2**63 else None
    if scale is None:
        raise not_found(N_("No rating scale with this version."))
    return scale


def _text(value):
    return value.strip() if isinstance(value, str) else ""


def checked(data):
    """``(levels, reasons)`` as stored, or ``Invalid`` whose fields say what is wrong and where.

    Levels: at least 2, distinct whole-number values, non-empty labels in
    both languages, at least one satisfied and one not, weights 0–100
    (default: spread evenly by rank, lowest 0, highest 100). Reasons:
    distinct codes (letters, digits, . _ -) with non-empty labels. Levels are
    stored highest value first, each with ``negative`` (not satisfied) for
    tablets that know only that.
    """
    errors = {}
    raw_levels = data.get("levels")
    raw_reasons = data.get("reasons") or []
    if not isinstance(raw_levels, list) or len(raw_levels) < 2:
        errors["levels"] = [N_("A scale needs at least 2 levels.")]
        raw_levels = raw_levels if isinstance(raw_levels, list) else []
    elif len(raw_levels) > MAX_LEVELS:
        errors["levels"] = [N_("A scale has at most 11 levels.")]
    levels, values = [], set()
    for index, level in enumerate(raw_levels):
        where = f"levels.{index}"
        if not isinstance(level, dict):
            errors[where] = [N_("Each level has a value, labels, satisfied and a weight.")]
            continue
        value = level.get("value")
        if type(value) is not int or not -1000 <= value <= 1000:
            errors[f"{where}.value"] = [N_("A whole number.")]
        elif value in values:
            errors[f"{where}.value"] = [N_("Two levels have the value %(value)s.", value=value)]
        values.add(value)
        for field in ("label_vi", "label_en"):
            if not _text(level.get(field)):
                errors[f"{where}.{field}"] = [N_("Give the level's label.")]
            elif len(_text(level.get(field))) > 100:
                errors[f"{where}.{field}"] = [N_("At most 100 characters.")]
        if type(level.get("satisfied")) is not bool:
            errors[f"{where}.satisfied"] = [N_("true or false.")]
        weight = level.get("weight")
        if weight is not None and (type(weight) not in (int, float) or not math.isfinite(weight)
                                   or not 0 <= weight <= 100):
            errors[f"{where}.weight"] = [N_("A number from 0 to 100.")]
        levels.append(level)
    if levels and "levels" not in errors:
        satisfied = {level.get("satisfied") for level in levels}
        if True not in satisfied or False not in satisfied:
            errors["levels"] = [N_("At least one level must count as satisfied and one must not.")]
    reasons, codes = [], set()
    if not isinstance(raw_reasons, list):
        errors["reasons"] = [N_("A list of reasons.")]
        raw_reasons = []
    for index, reason in enumerate(raw_reasons):
        where = f"reasons.{index}"
        if not isinstance(reason, dict):
            errors[where] = [N_("Each reason has a code and labels.")]
            continue
        code = reason.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            errors[f"{where}.code"] = [N_("Letters, digits, . _ - (max 64).")]
        elif code in codes:
            errors[f"{where}.code"] = [N_("Two reasons have the code %(code)s.", code=code)]
        codes.add(code)
        for field in ("label_vi", "label_en"):
            if not _text(reason.get(field)):
                errors[f"{where}.{field}"] = [N_("Give the reason's label.")]
        reasons.append({"code": code, "label_vi": _text(reason.get("label_vi")),
                        "label_en": _text(reason.get("label_en"))})
    if errors:
        raise Invalid(N_("The rating scale is not valid: see the fields."), errors)
    ranked = sorted(levels, key=lambda level: level["value"])
    stored = []
    for rank, level in enumerate(ranked):
        weight = level.get("weight")
        if weight is None:
            weight = round(100.0 * rank / (len(ranked) - 1), 4)
        stored.append({"value": level["value"], "label_vi": _text(level["label_vi"]),
                       "label_en": _text(level["label_en"]), "satisfied": level["satisfied"],
                       "weight": float(weight), "negative": not level["satisfied"]})
    return list(reversed(stored)), reasons


def publish(db, actor, data):
    """Publish the next version from ``{"levels", "reasons", "note"}``; returns it. Tablets get it with their
    next configuration; votes already cast keep theirs."""
    require(actor, "scales.write")
    levels, reasons = checked(data)
    note = _text(data.get("note"))[:500]
    with write_transaction(db):
        version = scales.insert_scale(db, levels, reasons, timestamp(), actor.name, note)
        scale = scales.get_scale(db, version)
        audit.record(db, actor, "publish_scale", "rating_scale", version, None,
                     after={"levels": levels, "reasons": reasons, "note": note})
    return scale

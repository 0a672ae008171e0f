"""The scores' parameters: read from the settings (``SCORE_*``), handed to ``analysis.scores.Params``,
and stored beside every closed period's revision as plain data."""

from analysis.grades import Grade
from analysis.scores import Params


def parse_grades(text):
    """``"excellent 95 Hoàn thành xuất sắc / Excellent; good 85 …"`` → a tuple of ``Grade``.

    Raises ``ValueError`` saying what is wrong; the rules on thresholds
    (best first, falling, the last 0) are ``analysis.grades.check_grades``.
    """
    grades = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        words = part.split(None, 2)
        if len(words) < 3 or "/" not in words[2]:
            raise ValueError(f"grade {part!r} is not like 'good 85 Hoàn thành tốt / Good'")
        code, threshold, names = words
        try:
            percent = int(threshold)
        except ValueError:
            raise ValueError(f"grade {code!r}: threshold {threshold!r} is not a whole percentage") from None
        name_vi, name_en = (name.strip() for name in names.split("/", 1))
        if not 0 <= percent < 100 or not name_vi or not name_en:
            raise ValueError(f"grade {code!r} needs a threshold from 0 to 99 and both names")
        grades.append(Grade(code, percent / 100, name_vi, name_en))
    from analysis.grades import check_grades

    return check_grades(grades)


def params_from_settings(settings):
    """``analysis.scores.Params`` from the ``SCORE_*`` settings."""
    return Params(
        min_votes=settings["SCORE_MIN_VOTES"],
        prior_max_strength=float(settings["SCORE_PRIOR_MAX_STRENGTH"]),
        credible=settings["SCORE_CREDIBLE_PERCENT"] / 100,
        grades=parse_grades(settings["SCORE_GRADES"]),
        grade_probability=settings["SCORE_GRADE_PROBABILITY_PERCENT"] / 100,
        floor_probability=settings["SCORE_FLOOR_PROBABILITY_PERCENT"] / 100,
    )

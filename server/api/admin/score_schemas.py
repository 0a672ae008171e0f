"""Schemas of the scores and periods API (issue 9): queries and bodies (load), answers (dump, OpenAPI).

Kept beside ``schemas.py`` rather than in it so the parts of issue 9 built
in parallel each keep their own file.
"""

from marshmallow import fields, validate

from server.errors import N_
from server.schemas import CODE_RE, BaseSchema, Text

PERIOD_RULE = validate.Regexp(r"^\d{4}(-\d{2}|-Q[1-4])?\Z",
                              error=N_("A period is a month (2026-10), a quarter (2026-Q4) or a year (2026)."))
Period = lambda **kw: Text(validate=PERIOD_RULE, **kw)  # noqa: E731
UnitCode = lambda **kw: Text(validate=validate.Regexp(CODE_RE, error=N_("Letters, digits, . _ - (max 64).")),  # noqa: E731
                             **kw)
Rate = lambda: fields.Float(allow_none=True)  # noqa: E731


class ScoresQuerySchema(BaseSchema):
    period = Period(required=True)
    unit = UnitCode(load_default=None)
    include_flagged = fields.Boolean(load_default=False)


class StaffScoresQuerySchema(BaseSchema):
    period = Period(required=True)


class RevisionQuerySchema(BaseSchema):
    unit = UnitCode(load_default=None)
    include_flagged = fields.Boolean(load_default=False)


class PeriodCloseSchema(BaseSchema):
    period = Period(required=True)
    unit = UnitCode(load_default=None, allow_none=True)


class RevisionSchema(BaseSchema):
    revision = fields.Integer()
    created_at = fields.String()
    created_by = fields.String()
    reason = fields.String()
    software_version = fields.String()
    last_vote_id = fields.Integer()
    n_votes = fields.Integer()


class ClosedPeriodSchema(BaseSchema):
    kind = fields.String(metadata={"description": "month, quarter or year"})
    key = fields.String(metadata={"description": "2026-10, 2026-Q4 or 2026"})
    unit = fields.String(allow_none=True, metadata={"description": "the subtree closed; null: everything"})
    first_day = fields.String()
    last_day = fields.String()
    closed_at = fields.String()
    closed_by = fields.String()
    revision = fields.Integer(metadata={"description": "the latest revision, the one scores are read from"})
    revisions = fields.List(fields.Nested(RevisionSchema))


class PeriodInfoSchema(BaseSchema):
    kind = fields.String()
    key = fields.String()
    first_day = fields.String()
    last_day = fields.String()
    closed = fields.Boolean()
    revision = fields.Integer(allow_none=True)
    closed_at = fields.String(allow_none=True)
    closed_by = fields.String(allow_none=True)
    closed_unit = fields.String(allow_none=True)
    reason = fields.String()
    software_version = fields.String()
    revisions = fields.List(fields.Dict())


class _Counts(BaseSchema):
    n = fields.Integer(metadata={"description": "votes scored: counted, plus flagged with include_flagged"})
    satisfied = fields.Integer()
    rate = Rate()
    rate_low = Rate()
    rate_high = Rate()
    index = Rate()
    counted = fields.Integer()
    flagged = fields.Integer()
    excluded = fields.Integer()


class SubjectScoreSchema(_Counts):
    """A staff member's (or a counter's) score in the period."""

    id = fields.Integer()
    staff_id = fields.Integer()
    counter_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    group = fields.Integer(metadata={"description": "the unit whose staff form the prior"})
    unit_id = fields.Integer()
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    score = fields.Float()
    score_low = fields.Float()
    score_high = fields.Float()
    grade = fields.String()
    grade_name_vi = fields.String()
    grade_name_en = fields.String()
    grade_probabilities = fields.Dict(keys=fields.String(), values=fields.Float())
    prior = fields.Dict()
    open_flags = fields.Integer()
    other_units = fields.List(fields.Dict())


class UnitScoreSchema(_Counts):
    """A unit pooled over its subtree (or the view's total)."""

    unit_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    parent_code = fields.String(allow_none=True)
    depth = fields.Integer()
    staff = fields.Integer()


class ScoresSchema(BaseSchema):
    period = fields.Nested(PeriodInfoSchema)
    unit = fields.Dict(allow_none=True)
    include_flagged = fields.Boolean()
    staff = fields.List(fields.Nested(SubjectScoreSchema))
    counters = fields.List(fields.Nested(SubjectScoreSchema))
    units = fields.List(fields.Nested(UnitScoreSchema))
    total = fields.Nested(UnitScoreSchema, allow_none=True)
    votes = fields.Dict(keys=fields.String(), values=fields.Integer())
    parameters = fields.Dict()


class StaffDetailSchema(BaseSchema):
    staff = fields.Dict()
    period = fields.Dict()
    score = fields.Nested(SubjectScoreSchema, allow_none=True)
    score_with_flagged = fields.Nested(SubjectScoreSchema, allow_none=True)
    levels = fields.List(fields.Dict())
    series = fields.List(fields.Dict())
    reasons = fields.List(fields.Dict())
    heatmap = fields.List(fields.List(fields.Integer()))
    flags = fields.List(fields.Dict())
    grade_history = fields.List(fields.Dict())

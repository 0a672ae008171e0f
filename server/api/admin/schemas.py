"""Schemas of the admin API: request bodies (load) and responses (dump, for OpenAPI).

Unknown fields raise (``BaseSchema``); server-owned fields (ids, times,
status) are ``dump_only`` so a client can never set them.
"""

from marshmallow import fields, validate

from server.errors import N_
from server.manage.users import EMAIL_PATTERN, EMAIL_RULE, USERNAME_PATTERN, USERNAME_RULE
from server.schemas import CODE_RE, BaseSchema, Day, Integer, Text

ROLE_NAMES = ("admin", "manager", "hr", "auditor", "staff")
# Every string a request sets is a Text (no control or direction-override
# characters) and every integer an Integer (64-bit): server/schemas.py.
# Validators with numbers in their default message get fixed texts, so the
# pages can look their translation up (server/web/fixed_messages.py).
AT_MOST_200 = validate.Length(max=200, error=N_("At most 200 characters."))
Code = lambda **kw: Text(validate=validate.Regexp(CODE_RE, error=N_("Letters, digits, . _ - (max 64).")), **kw)  # noqa: E731
Name = lambda **kw: Text(  # noqa: E731
    validate=validate.Length(min=1, max=200, error=N_("Between 1 and 200 characters.")), **kw
)


class UnitSpanSchema(BaseSchema):
    unit = fields.String(dump_only=True)
    valid_from = fields.String(dump_only=True, allow_none=True, metadata={"description": "null: since the record began"})
    valid_to = fields.String(dump_only=True, allow_none=True, metadata={"description": "null: still"})


class UnitSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    code = Code(required=True)
    name = Name(required=True)
    parent = Code(load_default=None, allow_none=True)
    active = fields.Boolean(load_default=True)
    created_at = fields.String(dump_only=True)
    updated_at = fields.String(dump_only=True)
    depth = fields.Integer(dump_only=True, metadata={"description": "in a list: how far below the nearest unit "
                                                                    "of your scope (0: that unit)"})


class UnitUpdateSchema(BaseSchema):
    name = Name()
    parent = Code(allow_none=True)
    active = fields.Boolean()


class CounterSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    code = Code(required=True)
    name = Name(required=True)
    unit = Code(required=True)
    active = fields.Boolean(load_default=True)
    created_at = fields.String(dump_only=True)
    updated_at = fields.String(dump_only=True)
    unit_history = fields.List(fields.Nested(UnitSpanSchema), dump_only=True, metadata={
        "description": "one counter: the units it belonged to and when"})


class CounterUpdateSchema(BaseSchema):
    name = Name()
    unit = Code()
    active = fields.Boolean()


class AssignmentSchema(BaseSchema):
    """A staff member seconded to a counter for a span of local dates (``valid_to`` none: until further notice)."""

    id = fields.Integer(dump_only=True)
    counter = fields.String(dump_only=True)
    staff = Code(required=True)
    full_name = fields.String(dump_only=True)
    unit = fields.String(dump_only=True, metadata={"description": "the person's own unit"})
    valid_from = Day(required=True)
    valid_to = Day(load_default=None, allow_none=True)
    created_at = fields.String(dump_only=True)
    updated_at = fields.String(dump_only=True)


class AssignmentEndSchema(BaseSchema):
    valid_to = Day(required=True, allow_none=True)


class RosterSchema(BaseSchema):
    counter = fields.String(dump_only=True)
    unit = fields.String(dump_only=True)
    unit_staff = fields.List(fields.Dict(), dump_only=True,
                             metadata={"description": "the counter's unit's active staff: any day"})
    assignments = fields.List(fields.Nested(AssignmentSchema), dump_only=True)


class StaffSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    code = Code(required=True)
    full_name = Name(required=True)
    title = Text(load_default="", validate=AT_MOST_200)
    unit = Code(required=True)
    active = fields.Boolean(load_default=True)
    has_photo = fields.Boolean(dump_only=True)
    created_at = fields.String(dump_only=True)
    updated_at = fields.String(dump_only=True)
    unit_history = fields.List(fields.Nested(UnitSpanSchema), dump_only=True, metadata={
        "description": "one record: the units they belonged to and when (votes count for the unit of their time)"})


class StaffUpdateSchema(BaseSchema):
    full_name = Name()
    title = Text(validate=AT_MOST_200)
    unit = Code()
    active = fields.Boolean()


class PinSchema(BaseSchema):
    code = fields.String(dump_only=True)
    pin = Text(required=True, load_only=True, validate=validate.Regexp(
        r"^[0-9]{4,8}\Z", error=N_("A PIN has 4 to 8 digits.")))
    pin_set_at = fields.String(dump_only=True)


class ImportResultSchema(BaseSchema):
    applied = fields.Boolean(dump_only=True)
    summary = fields.Dict(dump_only=True)
    problems = fields.List(fields.String(), dump_only=True)


class DeviceSchema(BaseSchema):
    id = fields.String(dump_only=True)
    counter = fields.String(dump_only=True)
    counter_name = fields.String(dump_only=True)
    unit = fields.String(dump_only=True)
    unit_name = fields.String(dump_only=True)
    state = fields.String(dump_only=True, metadata={"description": "online, late, silent or revoked"})
    enrolled_at = fields.String(dump_only=True)
    revoked_at = fields.String(dump_only=True, allow_none=True)
    last_seen_at = fields.String(dump_only=True, allow_none=True)
    last_heard_seconds = fields.Integer(dump_only=True, allow_none=True)
    last_heartbeat_at = fields.String(dump_only=True, allow_none=True)
    queue_depth = fields.Integer(dump_only=True, allow_none=True,
                                 metadata={"description": "as the tablet last reported it"})
    queue_age_seconds = fields.Integer(dump_only=True, allow_none=True,
                                       metadata={"description": "how old that report is"})
    oldest_unsent_at = fields.String(dump_only=True, allow_none=True)
    clock_offset_ms = fields.Integer(dump_only=True, allow_none=True)
    app_version = fields.String(dump_only=True, allow_none=True)
    ack_seq = fields.Integer(dump_only=True)


class EnrollmentCodeSchema(BaseSchema):
    counter = Code(required=True)
    ttl_minutes = Integer(strict=True, validate=validate.Range(
        min=1, max=7 * 24 * 60, error=N_("From 1 minute to 7 days (10080 minutes).")))
    code = fields.String(dump_only=True)
    expires_at = fields.String(dump_only=True)
    link = fields.String(dump_only=True, allow_none=True,
                         metadata={"description": "what the QR code carries: <server>/enroll?code=..."})
    qr_svg = fields.String(dump_only=True)


class RoleSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    role = Text(required=True, validate=validate.OneOf(
        ROLE_NAMES, error=N_("One of admin, manager, hr, auditor, staff.")))
    unit = Code(load_default=None, allow_none=True)


Email = lambda **kw: Text(validate=[AT_MOST_200, validate.Regexp(EMAIL_PATTERN, error=EMAIL_RULE)], **kw)  # noqa: E731
StaffLink = lambda **kw: Code(allow_none=True, metadata={  # noqa: E731
    "description": "code of the staff record this account belongs to (the staff role sees only them); null: none"},
    **kw)


class UserSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    username = Text(required=True, validate=validate.Regexp(USERNAME_PATTERN, error=USERNAME_RULE))
    full_name = Text(load_default="", validate=AT_MOST_200)
    password = Text(required=True, load_only=True, validate=AT_MOST_200)
    email = Email(load_default="")
    staff = StaffLink(load_default=None)
    active = fields.Boolean(dump_only=True)
    roles = fields.List(fields.Nested(RoleSchema), load_default=list)
    created_at = fields.String(dump_only=True)


class UserUpdateSchema(BaseSchema):
    full_name = Text(validate=AT_MOST_200)
    email = Email()
    staff = StaffLink()
    active = fields.Boolean()
    password = Text(load_only=True, validate=AT_MOST_200)


class PasswordChangeSchema(BaseSchema):
    current_password = Text(required=True, load_only=True)
    new_password = Text(required=True, load_only=True, validate=AT_MOST_200)


class TokenSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    days = Integer(strict=True, load_only=True, validate=validate.Range(min=1, error=N_("At least 1 day.")))
    password = Text(required=True, load_only=True,
                    metadata={"description": "Your password, entered again: a token is made only from a "
                                             "signed-in session, never with another token."})
    prefix = fields.String(dump_only=True)
    token = fields.String(dump_only=True, metadata={"description": "Shown once, at creation."})
    created_at = fields.String(dump_only=True)
    expires_at = fields.String(dump_only=True)
    revoked_at = fields.String(dump_only=True, allow_none=True)
    last_used_at = fields.String(dump_only=True, allow_none=True)


class AuditEntrySchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    at = fields.String(dump_only=True)
    actor_kind = fields.String(dump_only=True)
    actor = fields.String(dump_only=True)
    address = fields.String(dump_only=True, allow_none=True)
    action = fields.String(dump_only=True)
    object_type = fields.String(dump_only=True)
    object_id = fields.String(dump_only=True, allow_none=True)
    unit_id = fields.Integer(dump_only=True, allow_none=True)
    before = fields.Dict(dump_only=True, allow_none=True)
    after = fields.Dict(dump_only=True, allow_none=True)


class AuditQuerySchema(BaseSchema):
    actor = Text()
    action = Text()
    object_type = Text()
    before_id = Integer()
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=500, error=N_("From 1 to 500.")))


class PageQuerySchema(BaseSchema):
    after_id = Integer(load_default=0, validate=validate.Range(min=0, error=N_("0 or more.")))
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000, error=N_("From 1 to 1000.")))


class VoteRowSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    uuid = fields.String(dump_only=True)
    device_id = fields.String(dump_only=True)
    seq = fields.Integer(dump_only=True)
    counter = fields.String(dump_only=True)
    staff = fields.String(dump_only=True)
    rating = fields.Integer(dump_only=True)
    reasons = fields.List(fields.String(), dump_only=True)
    ticket = fields.String(dump_only=True, allow_none=True)
    local_time = fields.String(dump_only=True)
    received_at = fields.String(dump_only=True)
    counted_at = fields.String(dump_only=True, metadata={
        "description": "when the vote counts (UTC): local_time, or local_time corrected by the tablet's"
                       " measured clock offset when time_corrected"})
    time_corrected = fields.Boolean(dump_only=True, metadata={
        "description": "true when the tablet's clock was off by more than CLOCK_CORRECTION_SECONDS and"
                       " counted_at is the corrected time"})
    clock_offset_ms = fields.Integer(dump_only=True, allow_none=True)
    unit = fields.String(dump_only=True, allow_none=True,
                         metadata={"description": "the staff member's unit when the vote was cast"})
    counter_unit = fields.String(dump_only=True, allow_none=True,
                                 metadata={"description": "the counter's unit when the vote was cast"})
    scale_version = fields.Integer(dump_only=True)
    flags = fields.List(fields.String(), dump_only=True, metadata={
        "description": "ingest flags: staff_inactive, rapid_repeat (the tablet's signed mark: sooner than "
                       "the kiosk's vote interval after the previous vote), ..."})


class IncidentSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    stream = fields.String(dump_only=True, metadata={"description": "votes or sessions (staff sign-in events)"})
    device_id = fields.String(dump_only=True)
    counter = fields.String(dump_only=True)
    staff = fields.String(dump_only=True, allow_none=True, metadata={"description": "whom the item was about"})
    kind = fields.String(dump_only=True,
                         metadata={"description": "gap, conflict, rejected, or suppressed (a day's count past the cap)"})
    seq = fields.Integer(dump_only=True, allow_none=True)
    item_uuid = fields.String(dump_only=True, allow_none=True)
    vote_uuid = fields.String(dump_only=True, allow_none=True,
                              metadata={"description": "item_uuid of a vote's incident (kept for older scripts)"})
    detail = fields.String(dump_only=True)
    created_at = fields.String(dump_only=True)
    resolved_at = fields.String(dump_only=True, allow_none=True)


# --- Flags and their review, objections (issue 9) -----------------------------

class FlagSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    key = fields.String(dump_only=True, metadata={"description": "what was found; a re-run of the scan finds it again"})
    kind = fields.String(dump_only=True, metadata={
        "description": "burst, off_hours, short_interval, top_excess, level_mix, repeated_ticket, clock, absent,"
                       " rapid_repeat (docs/scoring.md says what each means and does not mean)"})
    severity = fields.String(dump_only=True, metadata={"description": "low, medium or high"})
    staff = fields.String(dump_only=True, allow_none=True)
    staff_name = fields.String(dump_only=True, allow_none=True)
    unit = fields.String(dump_only=True, allow_none=True)
    unit_name = fields.String(dump_only=True, allow_none=True)
    counter = fields.String(dump_only=True, allow_none=True)
    device = fields.String(dump_only=True, allow_none=True)
    first_at = fields.String(dump_only=True, allow_none=True, metadata={"description": "first vote's counted_at"})
    last_at = fields.String(dump_only=True, allow_none=True, metadata={"description": "last vote's counted_at"})
    test = fields.String(dump_only=True, metadata={"description": "the statistical test that found it"})
    statistic = fields.Float(dump_only=True, allow_none=True)
    p_value = fields.Float(dump_only=True, allow_none=True)
    q_value = fields.Float(dump_only=True, allow_none=True,
                           metadata={"description": "Benjamini–Hochberg adjusted across the scan's tests"})
    n_votes = fields.Integer(dump_only=True)
    detail = fields.Dict(dump_only=True, metadata={"description": "the numbers behind the explanation"})
    scan_id = fields.Integer(dump_only=True, allow_none=True)
    status = fields.String(dump_only=True, metadata={"description": "open, confirmed (misuse: votes excluded) or"
                                                                    " dismissed (votes count)"})
    reviewed_by = fields.String(dump_only=True, allow_none=True)
    reviewed_at = fields.String(dump_only=True, allow_none=True)
    review_reason = fields.String(dump_only=True, allow_none=True)
    created_at = fields.String(dump_only=True)


class FlagVoteSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    uuid = fields.String(dump_only=True)
    device = fields.String(dump_only=True)
    counter = fields.String(dump_only=True)
    staff = fields.String(dump_only=True)
    rating = fields.Integer(dump_only=True)
    scale_version = fields.Integer(dump_only=True)
    ticket = fields.String(dump_only=True, allow_none=True)
    local_time = fields.String(dump_only=True)
    counted_at = fields.String(dump_only=True)
    time_corrected = fields.Boolean(dump_only=True)
    clock_offset_ms = fields.Integer(dump_only=True, allow_none=True)
    received_at = fields.String(dump_only=True)
    flags = fields.List(fields.String(), dump_only=True, metadata={"description": "ingest flags (rapid_repeat, …)"})


class FlagReviewEntrySchema(BaseSchema):
    at = fields.String(dump_only=True)
    by = fields.String(dump_only=True)
    status = fields.String(dump_only=True)
    reason = fields.String(dump_only=True)


class FlagDetailSchema(FlagSchema):
    votes = fields.List(fields.Nested(FlagVoteSchema), dump_only=True)
    reviews = fields.List(fields.Nested(FlagReviewEntrySchema), dump_only=True,
                          metadata={"description": "every review, oldest first (from the audit log)"})


class FlagQuerySchema(BaseSchema):
    status = Text(validate=validate.OneOf(("open", "confirmed", "dismissed"),
                                          error=N_("One of open, confirmed, dismissed.")))
    unit = Code(metadata={"description": "a unit code: flags of its subtree"})
    staff = Code()
    period = Text(metadata={"description": "2026-10, 2026-Q4 or 2026: flags whose votes fall in it"})
    before_id = Integer()
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=500, error=N_("From 1 to 500.")))


class FlagReviewSchema(BaseSchema):
    decision = Text(required=True, validate=validate.OneOf(("confirm", "dismiss"),
                                                           error=N_("Either confirm or dismiss.")))
    reason = Text(required=True, validate=validate.Length(min=1, max=2000, error=N_("From 1 to 2000 characters.")),
                  metadata={"description": "why: kept in the audit log"})


# --- Opening hours and holidays (server/manage/calendar.py) ----------------------------

class RangeSchema(BaseSchema):
    opens = fields.String(dump_only=True, metadata={"description": "HH:MM, local time"})
    closes = fields.String(dump_only=True, metadata={"description": "HH:MM (24:00: midnight); closed from it"})


class DayHoursSchema(BaseSchema):
    weekday = fields.Integer(dump_only=True, metadata={"description": "0 = Monday"})
    day = fields.String(dump_only=True)
    ranges = fields.List(fields.Nested(RangeSchema), dump_only=True)


class HoursSchema(BaseSchema):
    """Opening hours as text: days then ranges, groups separated by ';' (an empty text: inherit)."""

    hours = Text(required=True, validate=AT_MOST_200, metadata={
        "description": "e.g. 'Mon-Fri 07:00-11:30,13:00-17:00; Sat 07:00-11:30'; empty removes a unit's own "
                       "hours (it inherits its nearest ancestor's, else the organisation's default)"})
    unit = fields.String(dump_only=True, allow_none=True)
    own = fields.Boolean(dump_only=True, metadata={"description": "whether the unit has hours of its own"})
    from_ = fields.String(dump_only=True, allow_none=True, data_key="from",
                          metadata={"description": "the unit whose hours apply; null: the organisation's default"})
    days = fields.List(fields.Nested(DayHoursSchema), dump_only=True)


class HolidaySchema(BaseSchema):
    day = Day(required=True)
    name_vi = Name(required=True)
    name_en = Text(load_default="", validate=AT_MOST_200)


class HolidayImportSchema(BaseSchema):
    rows = fields.Integer(dump_only=True)
    changed = fields.List(fields.String(), dump_only=True, metadata={"description": "days added or renamed"})


# --- Rating-scale versions (server/manage/scales.py) -------------------------------------

class ScaleLevelSchema(BaseSchema):
    value = Integer(required=True, metadata={"description": "what a tablet sends as `rating`"})
    label_vi = Text(required=True)
    label_en = Text(required=True)
    satisfied = fields.Boolean(required=True, metadata={"description": "counts as satisfied in the rate"})
    weight = fields.Float(load_default=None, allow_none=True, metadata={
        "description": "0-100 in the index; default: spread evenly by rank (lowest 0, highest 100)"})
    negative = fields.Boolean(dump_only=True, metadata={"description": "not satisfied (what older tablets read)"})


class ScaleReasonSchema(BaseSchema):
    code = Code(required=True)
    label_vi = Text(required=True)
    label_en = Text(required=True)


class ScaleSchema(BaseSchema):
    """A rating-scale version: published once, never changed; the newest is current."""

    version = fields.Integer(dump_only=True)
    levels = fields.List(fields.Nested(ScaleLevelSchema), required=True)
    reasons = fields.List(fields.Nested(ScaleReasonSchema), load_default=list)
    note = Text(load_default="", validate=validate.Length(max=500, error=N_("At most 500 characters.")))
    created_at = fields.String(dump_only=True)
    published_by = fields.String(dump_only=True, allow_none=True)
    votes = fields.Integer(dump_only=True, metadata={"description": "votes cast under this version"})
    current = fields.Boolean(dump_only=True, metadata={"description": "the version tablets are given"})
class ObjectionSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    flag = Integer(load_default=None, allow_none=True, metadata={"description": "the id of one of your flags"})
    period = Text(load_default=None, allow_none=True, metadata={
        "description": "a closed period (2026-10, 2026-Q4, 2026) whose grade you object to"})
    text = Text(required=True, validate=validate.Length(min=1, max=4000, error=N_("From 1 to 4000 characters.")))
    staff = fields.String(dump_only=True)
    staff_name = fields.String(dump_only=True)
    unit = fields.String(dump_only=True, allow_none=True)
    period_kind = fields.String(dump_only=True, allow_none=True)
    created_at = fields.String(dump_only=True)
    created_by = fields.String(dump_only=True, allow_none=True)
    status = fields.String(dump_only=True, metadata={"description": "open, upheld or rejected"})
    answer = fields.String(dump_only=True, allow_none=True)
    answered_at = fields.String(dump_only=True, allow_none=True)
    answered_by = fields.String(dump_only=True, allow_none=True)


class ObjectionQuerySchema(BaseSchema):
    status = Text(validate=validate.OneOf(("open", "upheld", "rejected"), error=N_("One of open, upheld, rejected.")))
    staff = Code()
    before_id = Integer()
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=500, error=N_("From 1 to 500.")))


class ObjectionAnswerSchema(BaseSchema):
    decision = Text(required=True, validate=validate.OneOf(("upheld", "rejected"),
                                                           error=N_("Either upheld or rejected.")))
    answer = Text(required=True, validate=validate.Length(min=1, max=4000, error=N_("From 1 to 4000 characters.")))

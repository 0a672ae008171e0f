"""Migrations of evaluation: attribution, calendars, scale versions, rollups,
flags and their review, closed periods, alerts, objections, staff accounts.

Names start with ``scores_`` and a number; never edit one that has shipped.
"""

import json

from migrations import migrations


@migrations()
def scores_001_attribution(db):
    # A vote counts for the unit its staff member (and its counter) belonged
    # to when it was cast, and for the period of the moment it counts at.
    # Moving a person or a counter later must not move their history, so the
    # units are recorded on the vote at ingest, looked up in ``unit_history``
    # at the vote's time (an offline tablet's late vote may predate a move).
    db.execute("ALTER TABLE votes ADD COLUMN unit_id INTEGER REFERENCES units(id)")
    db.execute("ALTER TABLE votes ADD COLUMN counter_unit_id INTEGER REFERENCES units(id)")
    # When the vote counts (UTC, like every stored time): the tablet's
    # local_time, or that time corrected by the batch's measured clock offset
    # when the tablet's clock was off by more than CLOCK_CORRECTION_SECONDS;
    # ``time_corrected`` says which.
    db.execute("ALTER TABLE votes ADD COLUMN counted_at TEXT")
    db.execute("ALTER TABLE votes ADD COLUMN time_corrected INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE votes SET unit_id = (SELECT unit_id FROM staff WHERE staff.id = votes.staff_id)")
    db.execute("UPDATE votes SET counter_unit_id = (SELECT unit_id FROM counters WHERE counters.id = votes.counter_id)")
    db.execute("UPDATE votes SET counted_at = strftime('%Y-%m-%dT%H:%M:%fZ', local_time)")
    db.execute("CREATE INDEX votes_unit_time ON votes(unit_id, counted_at)")
    db.execute("CREATE INDEX votes_staff_time ON votes(staff_id, counted_at)")
    db.execute("CREATE INDEX votes_counter_time ON votes(counter_id, counted_at)")
    # Which unit a staff member or a counter belonged to, and since when
    # (valid_from NULL: since the record began; valid_to NULL: still).
    db.execute(
        """CREATE TABLE unit_history (
            id INTEGER PRIMARY KEY,
            subject TEXT NOT NULL CHECK (subject IN ('staff', 'counter')),
            subject_id INTEGER NOT NULL,
            unit_id INTEGER NOT NULL REFERENCES units(id),
            valid_from TEXT,
            valid_to TEXT,
            CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)
        )"""
    )
    db.execute("CREATE INDEX unit_history_subject ON unit_history(subject, subject_id, valid_from)")
    db.execute("INSERT INTO unit_history (subject, subject_id, unit_id) SELECT 'staff', id, unit_id FROM staff")
    db.execute("INSERT INTO unit_history (subject, subject_id, unit_id) SELECT 'counter', id, unit_id FROM counters")


@migrations()
def scores_002_opening_hours_and_holidays(db):
    # Opening hours per unit, several ranges a day (weekday 0 = Monday; local
    # times HH:MM in TIMEZONE). A unit without rows of its own has its
    # nearest ancestor's; the rows with unit_id NULL are the organisation's
    # default (seeded: Mon–Fri 07:00–11:30 and 13:00–17:00).
    db.execute(
        """CREATE TABLE opening_hours (
            id INTEGER PRIMARY KEY,
            unit_id INTEGER REFERENCES units(id),
            weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
            opens TEXT NOT NULL,
            closes TEXT NOT NULL,
            CHECK (opens < closes)
        )"""
    )
    db.execute("CREATE INDEX opening_hours_unit ON opening_hours(unit_id, weekday)")
    for weekday in range(5):
        for opens, closes in (("07:00", "11:30"), ("13:00", "17:00")):
            db.execute(
                "INSERT INTO opening_hours (unit_id, weekday, opens, closes) VALUES (NULL, ?, ?, ?)",
                [weekday, opens, closes],
            )
    # Public holidays (local dates), the same for every unit; an admin edits
    # the yearly list.
    db.execute(
        """CREATE TABLE holidays (
            day TEXT PRIMARY KEY,
            name_vi TEXT NOT NULL,
            name_en TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )


@migrations()
def scores_003_scale_versions(db):
    # A published scale version says, per level, its value, labels, whether
    # it counts as satisfied and its weight in the 0–100 index. Version 1
    # gets what it meant: its two non-negative levels are satisfied, weights
    # spread evenly (100, 66.7, 33.3, 0).
    db.execute("ALTER TABLE rating_scales ADD COLUMN published_by TEXT")
    db.execute("ALTER TABLE rating_scales ADD COLUMN note TEXT NOT NULL DEFAULT ''")
    for version, levels_json in db.execute("SELECT version, levels FROM rating_scales").fetchall():
        levels = json.loads(levels_json)
        values = [level["value"] for level in levels]
        low, high = min(values), max(values)
        for level in levels:
            level.setdefault("satisfied", not level.get("negative", False))
            level.setdefault("weight", 100.0 * (level["value"] - low) / (high - low) if high > low else 100.0)
        db.execute(
            "UPDATE rating_scales SET levels = ? WHERE version = ?",
            [json.dumps(levels, ensure_ascii=False), version],
        )


@migrations()
def scores_004_rollups_and_flags(db):
    # Daily counts kept current by ``hailong jobs`` so scores and pages never
    # scan raw votes: a row per local day (TIMEZONE) × staff × unit (the
    # staff member's at vote time) × counter × counter's unit × scale
    # version × rating × standing. ``standing``: counted, flagged (an open
    # flag or an unreviewed rapid_repeat mark: kept out of the headline
    # score until reviewed), excluded (a flag confirmed as misuse).
    db.execute(
        """CREATE TABLE vote_rollups (
            day TEXT NOT NULL,
            staff_id INTEGER NOT NULL,
            unit_id INTEGER NOT NULL,
            counter_id INTEGER NOT NULL,
            counter_unit_id INTEGER NOT NULL,
            scale_version INTEGER NOT NULL,
            rating INTEGER NOT NULL,
            standing TEXT NOT NULL CHECK (standing IN ('counted', 'flagged', 'excluded')),
            n INTEGER NOT NULL,
            PRIMARY KEY (day, staff_id, unit_id, counter_id, counter_unit_id, scale_version, rating, standing)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX vote_rollups_staff ON vote_rollups(staff_id, day)")
    db.execute("CREATE INDEX vote_rollups_unit ON vote_rollups(unit_id, day)")
    # The last votes.id rolled up, and (day, staff) pairs to recount because a
    # flag or its review changed their votes' standing.
    db.execute("CREATE TABLE rollup_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute(
        """CREATE TABLE rollup_dirty (
            day TEXT NOT NULL,
            staff_id INTEGER NOT NULL,
            PRIMARY KEY (day, staff_id)
        ) WITHOUT ROWID"""
    )
    # One run of the anomaly scan: what it looked at and with which parameters.
    db.execute(
        """CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            day_from TEXT NOT NULL,
            day_to TEXT NOT NULL,
            software_version TEXT NOT NULL,
            parameters TEXT NOT NULL,
            n_tests INTEGER NOT NULL DEFAULT 0,
            n_flags INTEGER NOT NULL DEFAULT 0
        )"""
    )
    # A flag: a test that found something, on which votes, and its review.
    # Flagged votes are never deleted; a confirmed flag excludes its votes
    # from scores, a dismissed one counts them again. ``key`` makes a re-run
    # of the scan find the flag it already raised instead of a second one.
    db.execute(
        """CREATE TABLE flags (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
            staff_id INTEGER REFERENCES staff(id),
            unit_id INTEGER REFERENCES units(id),
            counter_id INTEGER REFERENCES counters(id),
            device_id TEXT REFERENCES devices(id),
            first_at TEXT,
            last_at TEXT,
            test TEXT NOT NULL,
            statistic REAL,
            p_value REAL,
            q_value REAL,
            n_votes INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT '{}',
            scan_id INTEGER REFERENCES scans(id),
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'confirmed', 'dismissed')),
            reviewed_by TEXT,
            reviewed_at TEXT,
            review_reason TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX flags_staff ON flags(staff_id, status)")
    db.execute("CREATE INDEX flags_unit ON flags(unit_id, status)")
    db.execute(
        """CREATE TABLE flag_votes (
            flag_id INTEGER NOT NULL REFERENCES flags(id),
            vote_id INTEGER NOT NULL REFERENCES votes(id),
            PRIMARY KEY (flag_id, vote_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX flag_votes_vote ON flag_votes(vote_id)")


@migrations()
def scores_005_periods(db):
    # HR closes a month (2026-10), quarter (2026-Q4) or year (2026) for a unit
    # subtree (unit_id NULL: the whole organisation). Closing freezes the
    # scores as revision 1; votes for the period that arrive later make a
    # revision 2, 3, ... – visible, never a silent change; every revision
    # stays readable with the software version and parameters it used.
    db.execute(
        """CREATE TABLE periods (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('month', 'quarter', 'year')),
            key TEXT NOT NULL,
            unit_id INTEGER REFERENCES units(id),
            first_day TEXT NOT NULL,
            last_day TEXT NOT NULL,
            closed_at TEXT NOT NULL,
            closed_by TEXT NOT NULL
        )"""
    )
    db.execute("CREATE UNIQUE INDEX periods_unique ON periods(kind, key, IFNULL(unit_id, 0))")
    db.execute(
        """CREATE TABLE period_revisions (
            id INTEGER PRIMARY KEY,
            period_id INTEGER NOT NULL REFERENCES periods(id),
            revision INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            software_version TEXT NOT NULL,
            parameters TEXT NOT NULL,
            last_vote_id INTEGER NOT NULL,
            n_votes INTEGER NOT NULL,
            UNIQUE (period_id, revision)
        )"""
    )
    db.execute(
        """CREATE TABLE period_scores (
            revision_id INTEGER NOT NULL REFERENCES period_revisions(id),
            subject TEXT NOT NULL CHECK (subject IN ('staff', 'counter', 'unit')),
            subject_id INTEGER NOT NULL,
            unit_id INTEGER,
            n INTEGER NOT NULL,
            grade TEXT,
            score TEXT NOT NULL,
            PRIMARY KEY (revision_id, subject, subject_id)
        ) WITHOUT ROWID"""
    )


@migrations()
def scores_006_alerts_objections_staff_accounts(db):
    # Alerts raised by thresholds (negative share at a counter, a silent
    # tablet, a new high-severity flag), shown on the pages and emailed to the
    # unit's managers; ``key`` keeps one alert per condition and window.
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
            unit_id INTEGER REFERENCES units(id),
            counter_id INTEGER REFERENCES counters(id),
            staff_id INTEGER REFERENCES staff(id),
            device_id TEXT REFERENCES devices(id),
            flag_id INTEGER REFERENCES flags(id),
            detail TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            acknowledged_at TEXT,
            acknowledged_by TEXT
        )"""
    )
    db.execute("CREATE INDEX alerts_unit ON alerts(unit_id, created_at)")
    # Every email the server means to send, sent by the jobs process and kept
    # with its outcome (so a down mail server delays mail, never loses it).
    db.execute(
        """CREATE TABLE email_outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            recipients TEXT NOT NULL,
            subject TEXT NOT NULL,
            body_text TEXT NOT NULL,
            body_html TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )"""
    )
    # A civil servant's objection to a flag or to a closed period's grade,
    # and HR's answer.
    db.execute(
        """CREATE TABLE objections (
            id INTEGER PRIMARY KEY,
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            flag_id INTEGER REFERENCES flags(id),
            period_id INTEGER REFERENCES periods(id),
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by INTEGER NOT NULL REFERENCES users(id),
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'rejected')),
            answer TEXT,
            answered_at TEXT,
            answered_by TEXT,
            CHECK ((flag_id IS NULL) != (period_id IS NULL))
        )"""
    )
    db.execute("CREATE INDEX objections_staff ON objections(staff_id)")
    # People have an email address (alerts, reports) and a civil servant's
    # account is linked to their staff record; the ``staff`` role sees only
    # that person. SQLite cannot change a CHECK, so user_roles is rebuilt.
    db.execute("ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE users ADD COLUMN staff_id INTEGER REFERENCES staff(id)")
    db.execute("CREATE UNIQUE INDEX users_staff ON users(staff_id) WHERE staff_id IS NOT NULL")
    db.execute(
        """CREATE TABLE user_roles_new (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'hr', 'auditor', 'staff')),
            unit_id INTEGER REFERENCES units(id),
            created_at TEXT NOT NULL,
            CHECK ((role IN ('admin', 'staff')) = (unit_id IS NULL))
        )"""
    )
    db.execute("INSERT INTO user_roles_new SELECT id, user_id, role, unit_id, created_at FROM user_roles")
    db.execute("DROP TABLE user_roles")
    db.execute("ALTER TABLE user_roles_new RENAME TO user_roles")
    db.execute("CREATE UNIQUE INDEX user_roles_unique ON user_roles(user_id, role, IFNULL(unit_id, 0))")


@migrations()
def scores_170_email_next_attempt(db):
    # When the sender may try a message again: set when it claims the message
    # (now + its backoff), so a failed try, or a jobs process killed mid-send,
    # waits out its backoff instead of hammering a mail server that is down.
    # NULL: as soon as possible.
    db.execute("ALTER TABLE email_outbox ADD COLUMN next_attempt_at TEXT")
    db.execute("CREATE INDEX email_outbox_pending ON email_outbox(sent_at, next_attempt_at)")


@migrations()
def scores_150_votes_by_counted_at(db):
    # The nightly anomaly scan reads one day of votes, and the weeks before it
    # for each person's hourly baseline, by counted_at across every unit: an
    # index on the time alone keeps that a range read instead of a scan of
    # every vote ever cast.
    db.execute("CREATE INDEX votes_counted_at ON votes(counted_at)")


@migrations()
def scores_140_monthly_rollups(db):
    # The daily rollups summed per local month, kept in the same transactions
    # as vote_rollups: a period is whole months, so a month reads ~25,000
    # rows instead of ~325,000 and a year ~26,000 instead of 3.4 million (a
    # GROUP BY over a year of daily rows took 13 s for 5,000 staff).
    db.execute(
        """CREATE TABLE vote_rollups_monthly (
            month TEXT NOT NULL,
            staff_id INTEGER NOT NULL,
            unit_id INTEGER NOT NULL,
            counter_id INTEGER NOT NULL,
            counter_unit_id INTEGER NOT NULL,
            scale_version INTEGER NOT NULL,
            rating INTEGER NOT NULL,
            standing TEXT NOT NULL CHECK (standing IN ('counted', 'flagged', 'excluded')),
            n INTEGER NOT NULL,
            PRIMARY KEY (month, staff_id, unit_id, counter_id, counter_unit_id, scale_version, rating, standing)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "INSERT INTO vote_rollups_monthly SELECT substr(day, 1, 7), staff_id, unit_id, counter_id, counter_unit_id,"
        " scale_version, rating, standing, SUM(n) FROM vote_rollups GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
    )

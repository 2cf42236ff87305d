"""Statistics: completion targets, the completion ledger kept by triggers, survey import jobs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

STAT-1 (what the measures mean) is the SQL function `completion_state_of`; STAT-2 (the ledger
follows every change) is `completion_refresh` called by statement triggers on units, rights,
application_units and application_transitions. Existing units are counted at upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ("due", "recorded", "certified", "in_progress", "disputed")

HELPERS = [
    # The bureau's calendar: a moment's date in China Standard Time.
    """
CREATE FUNCTION registry_local_day(moment timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (moment AT TIME ZONE 'Asia/Shanghai')::date
""",
    """
CREATE FUNCTION registry_month_of(day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN make_date(extract(year FROM day)::int, extract(month FROM day)::int, 1)
""",
    # [lo, hi) of days; hi NULL = still going; never reversed (an end before its start is empty).
    """
CREATE FUNCTION registry_days(lo date, hi date) RETURNS daterange
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN daterange(lo, CASE WHEN hi IS NULL THEN NULL ELSE greatest(lo, hi) END)
""",
]

# STAT-1. The one definition of the five measures (docs/statistics.md says it in words).
# A day D counts when the state after every change dated D or earlier has the property.
STATE_OF = """
CREATE FUNCTION completion_state_of(unit_ids bigint[])
RETURNS TABLE (unit_id bigint, county_code varchar, township_code varchar, kind unit_kind,
               due datemultirange, recorded datemultirange, certified datemultirange,
               in_progress datemultirange, disputed datemultirange)
LANGUAGE sql STABLE AS $$
SELECT u.id, u.county_code, u.township_code, u.kind,
       d.due,
       d.due * t.recorded,
       d.due * t.recorded * c.certified,
       (d.due * a.open) - t.recorded,
       d.due * o.disputed
  FROM units u
  -- due 应登记: from the day it was surveyed, except while cancelled (from the end of a
  -- terminated title until the next first registration, if any)
  CROSS JOIN LATERAL (
      SELECT datemultirange(daterange(registry_local_day(u.created_at), NULL))
             - coalesce(range_agg(registry_days(
                   registry_local_day(x.ended_at),
                   (SELECT registry_local_day(min(f.begun_at)) FROM rights f
                     WHERE f.unit_id = u.id AND f.kind = 'title' AND f.predecessor_id IS NULL
                       AND f.begun_at >= x.ended_at))), '{}') AS due
        FROM rights x
       WHERE x.unit_id = u.id AND x.kind = 'title' AND x.status = 'terminated') d
  -- recorded 已登簿: while some title right is in force (transfers hand over on the same day)
  CROSS JOIN LATERAL (
      SELECT coalesce(range_agg(registry_days(registry_local_day(r.begun_at),
                                              registry_local_day(r.ended_at))), '{}') AS recorded
        FROM rights r
       WHERE r.unit_id = u.id AND r.kind = 'title' AND r.status <> 'provisional') t
  -- certified 已发证: from the day the first registration's certificate was delivered until
  -- that title line ends (cancellation)
  CROSS JOIN LATERAL (
      SELECT coalesce(range_agg(registry_days(
                 registry_local_day(ct.at),
                 (SELECT registry_local_day(min(x.ended_at)) FROM rights x
                   WHERE x.unit_id = u.id AND x.kind = 'title' AND x.status = 'terminated'
                     AND x.ended_at >= f.begun_at))), '{}') AS certified
        FROM rights f
        CROSS JOIN LATERAL (SELECT min(tr.at) AS at FROM application_transitions tr
                             WHERE tr.application_id = f.application_id
                               AND tr.to_state = 'certified') ct
       WHERE f.unit_id = u.id AND f.kind = 'title' AND f.predecessor_id IS NULL
         AND ct.at IS NOT NULL) c
  -- in progress 在办: a first-registration case is open (submitted, not yet recorded, refused,
  -- rejected or withdrawn) and the unit is not recorded
  CROSS JOIN LATERAL (
      SELECT coalesce(range_agg(registry_days(
                 registry_local_day(ap.submitted_at),
                 (SELECT registry_local_day(min(tr.at)) FROM application_transitions tr
                   WHERE tr.application_id = ap.id
                     AND tr.to_state IN ('recorded', 'refused', 'rejected', 'withdrawn')))),
                 '{}') AS open
        FROM application_units au JOIN applications ap ON ap.id = au.application_id
       WHERE au.unit_id = u.id AND ap.kind = 'first') a
  -- disputed 有异议: an objection is in force (until ended, or lapsed by law)
  CROSS JOIN LATERAL (
      SELECT coalesce(range_agg(registry_days(
                 registry_local_day(ob.begun_at),
                 registry_local_day(least(ob.ended_at, ob.lapses_at)))), '{}') AS disputed
        FROM rights ob
       WHERE ob.unit_id = u.id AND ob.kind = 'objection' AND ob.status <> 'provisional') o
 WHERE u.id = ANY(unit_ids)
$$
"""

_SET_ADD = ", ".join(f"{m} = l.{m} + EXCLUDED.{m}" for m in MEASURES)
_SUMS = ", ".join(f"coalesce(sum(e.delta) FILTER (WHERE e.measure = '{m}'), 0)" for m in MEASURES)

# STAT-2. Recount some units: their new multiranges replace the stored ones, and the ledger
# gets the difference (+1 where a range starts, -1 where it ends), by day and by month.
REFRESH = f"""
CREATE FUNCTION completion_refresh(unit_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
WITH fresh AS MATERIALIZED (SELECT * FROM completion_state_of(unit_ids)),
old AS MATERIALIZED (
    SELECT s.* FROM completion_unit_state s WHERE s.unit_id = ANY(unit_ids)),
changed AS MATERIALIZED (
    SELECT f.* FROM fresh f LEFT JOIN old o ON o.unit_id = f.unit_id
     WHERE o.unit_id IS NULL
        OR (f.due, f.recorded, f.certified, f.in_progress, f.disputed)
           IS DISTINCT FROM (o.due, o.recorded, o.certified, o.in_progress, o.disputed)),
saved AS (
    INSERT INTO completion_unit_state
    SELECT * FROM changed
    ON CONFLICT (unit_id) DO UPDATE
       SET due = EXCLUDED.due, recorded = EXCLUDED.recorded, certified = EXCLUDED.certified,
           in_progress = EXCLUDED.in_progress, disputed = EXCLUDED.disputed),
sides AS (
    SELECT c.county_code, c.township_code, c.kind, 1 AS sign,
           c.due, c.recorded, c.certified, c.in_progress, c.disputed
      FROM changed c
    UNION ALL
    SELECT o.county_code, o.township_code, o.kind, -1,
           o.due, o.recorded, o.certified, o.in_progress, o.disputed
      FROM old o JOIN changed c ON c.unit_id = o.unit_id),
edges AS (
    SELECT s.county_code, s.township_code, s.kind, e.day, m.measure, s.sign * e.step AS delta
      FROM sides s
      CROSS JOIN LATERAL (VALUES ('due', s.due), ('recorded', s.recorded),
                                 ('certified', s.certified), ('in_progress', s.in_progress),
                                 ('disputed', s.disputed)) AS m(measure, days)
      CROSS JOIN LATERAL unnest(m.days) AS r(days)
      CROSS JOIN LATERAL (VALUES (lower(r.days), 1), (upper(r.days), -1)) AS e(day, step)
     WHERE e.day IS NOT NULL)
INSERT INTO completion_ledger AS l
       (kind, grain, county_code, period, township_code, {", ".join(MEASURES)})
SELECT e.kind, g.grain, e.county_code, g.period, e.township_code, {_SUMS}
  FROM edges e
  CROSS JOIN LATERAL (VALUES ('day', e.day), ('month', registry_month_of(e.day)))
       AS g(grain, period)
 GROUP BY 1, 2, 3, 4, 5
 ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (kind, grain, county_code, period, township_code) DO UPDATE SET {_SET_ADD}
$$
"""

# A unit just inserted has no rights and no cases yet (they reference it): it is due from the
# day it was surveyed and nothing else. Set-based, so a bulk import costs one pass.
ON_UNITS_INSERT = f"""
CREATE FUNCTION completion_on_units_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO completion_unit_state
    SELECT n.id, n.county_code, n.township_code, n.kind,
           datemultirange(daterange(registry_local_day(n.created_at), NULL)),
           '{{}}', '{{}}', '{{}}', '{{}}'
      FROM new_units n;
    INSERT INTO completion_ledger AS l
           (kind, grain, county_code, period, township_code, {", ".join(MEASURES)})
    SELECT n.kind, g.grain, n.county_code, g.period, n.township_code, count(*), 0, 0, 0, 0
      FROM new_units n
      CROSS JOIN LATERAL (VALUES ('day', registry_local_day(n.created_at)),
                                 ('month', registry_month_of(registry_local_day(n.created_at))))
           AS g(grain, period)
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (kind, grain, county_code, period, township_code) DO UPDATE
       SET due = l.due + EXCLUDED.due;
    RETURN NULL;
END
$$
"""

ON_RIGHTS_CHANGE = """
CREATE FUNCTION completion_on_rights_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM completion_refresh(ARRAY(SELECT DISTINCT unit_id FROM changed_rights));
    RETURN NULL;
END
$$
"""

ON_CASE_UNITS = """
CREATE FUNCTION completion_on_case_units() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM completion_refresh(ARRAY(SELECT DISTINCT unit_id FROM new_links));
    RETURN NULL;
END
$$
"""

ON_TRANSITIONS = """
CREATE FUNCTION completion_on_transitions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM completion_refresh(ARRAY(
        SELECT DISTINCT au.unit_id FROM new_transitions t
          JOIN application_units au ON au.application_id = t.application_id));
    RETURN NULL;
END
$$
"""

TRIGGERS = [
    "CREATE TRIGGER completion_units_insert AFTER INSERT ON units"
    " REFERENCING NEW TABLE AS new_units"
    " FOR EACH STATEMENT EXECUTE FUNCTION completion_on_units_insert()",
    "CREATE TRIGGER completion_rights_insert AFTER INSERT ON rights"
    " REFERENCING NEW TABLE AS changed_rights"
    " FOR EACH STATEMENT EXECUTE FUNCTION completion_on_rights_change()",
    "CREATE TRIGGER completion_rights_update AFTER UPDATE ON rights"
    " REFERENCING NEW TABLE AS changed_rights"
    " FOR EACH STATEMENT EXECUTE FUNCTION completion_on_rights_change()",
    "CREATE TRIGGER completion_case_units AFTER INSERT ON application_units"
    " REFERENCING NEW TABLE AS new_links"
    " FOR EACH STATEMENT EXECUTE FUNCTION completion_on_case_units()",
    "CREATE TRIGGER completion_transitions AFTER INSERT ON application_transitions"
    " REFERENCING NEW TABLE AS new_transitions"
    " FOR EACH STATEMENT EXECUTE FUNCTION completion_on_transitions()",
]

DROP = [
    "DROP TRIGGER IF EXISTS completion_transitions ON application_transitions",
    "DROP TRIGGER IF EXISTS completion_case_units ON application_units",
    "DROP TRIGGER IF EXISTS completion_rights_update ON rights",
    "DROP TRIGGER IF EXISTS completion_rights_insert ON rights",
    "DROP TRIGGER IF EXISTS completion_units_insert ON units",
    "DROP FUNCTION IF EXISTS completion_on_transitions()",
    "DROP FUNCTION IF EXISTS completion_on_case_units()",
    "DROP FUNCTION IF EXISTS completion_on_rights_change()",
    "DROP FUNCTION IF EXISTS completion_on_units_insert()",
    "DROP FUNCTION IF EXISTS completion_refresh(bigint[])",
    "DROP FUNCTION IF EXISTS completion_state_of(bigint[])",
    "DROP FUNCTION IF EXISTS registry_days(date, date)",
    "DROP FUNCTION IF EXISTS registry_month_of(date)",
    "DROP FUNCTION IF EXISTS registry_local_day(timestamptz)",
]


def upgrade() -> None:
    unit_kind = postgresql.ENUM(
        "rural_house",
        "infrastructure",
        "parking_space",
        "land",
        name="unit_kind",
        create_type=False,
    )
    op.create_table(
        "completion_targets",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", unit_kind, nullable=False),
        sa.Column("target", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "target > 0 AND target <= 1", name=op.f("ck_completion_targets_target_is_a_fraction")
        ),
        sa.CheckConstraint(
            "year BETWEEN 2000 AND 2100", name=op.f("ck_completion_targets_year_plausible")
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["divisions.code"],
            name=op.f("fk_completion_targets_county_code_divisions"),
        ),
        sa.ForeignKeyConstraint(
            ["set_by"], ["users.id"], name=op.f("fk_completion_targets_set_by_users")
        ),
        sa.PrimaryKeyConstraint("county_code", "year", "kind", name=op.f("pk_completion_targets")),
    )
    op.create_table(
        "completion_unit_state",
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("township_code", sa.String(length=12), nullable=False),
        sa.Column("kind", unit_kind, nullable=False),
        *(sa.Column(m, postgresql.DATEMULTIRANGE(), nullable=False) for m in MEASURES),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_completion_unit_state")),
    )
    op.create_table(
        "completion_ledger",
        sa.Column("kind", unit_kind, nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("township_code", sa.String(length=12), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in MEASURES),
        sa.CheckConstraint(
            "grain IN ('day', 'month')", name=op.f("ck_completion_ledger_grain_known")
        ),
        sa.PrimaryKeyConstraint(
            "kind",
            "grain",
            "county_code",
            "period",
            "township_code",
            name=op.f("pk_completion_ledger"),
        ),
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum("queued", "running", "succeeded", "failed", name="import_job_state"),
            nullable=False,
        ),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=256), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_import_jobs_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(op.f("ix_import_jobs_created_by"), "import_jobs", ["created_by"], unique=False)
    op.create_table(
        "import_findings",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("finding", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message_zh", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "finding IN ('reject', 'difference')", name=op.f("ck_import_findings_finding_known")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_jobs.id"], name=op.f("fk_import_findings_job_id_import_jobs")
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_import_findings")),
    )
    for statement in [
        *HELPERS,
        STATE_OF,
        REFRESH,
        ON_UNITS_INSERT,
        ON_RIGHTS_CHANGE,
        ON_CASE_UNITS,
        ON_TRANSITIONS,
        *TRIGGERS,
    ]:
        op.execute(statement)
    # Units registered before this migration are counted now (STAT-2 from the start).
    op.execute("SELECT completion_refresh(ARRAY(SELECT id FROM units))")


def downgrade() -> None:
    for statement in DROP:
        op.execute(statement)
    op.drop_table("import_findings")
    op.drop_index(op.f("ix_import_jobs_created_by"), table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_table("completion_ledger")
    op.drop_table("completion_unit_state")
    op.drop_table("completion_targets")
    sa.Enum(name="import_job_state").drop(op.get_bind(), checkfirst=True)

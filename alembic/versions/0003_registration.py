"""Registration: parcels, units, parties, rights, applications, the register, certificates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Besides tables, this migration installs the rules the database itself enforces (stated in the
model modules' docstrings): PARCEL-2 non-overlap (statement triggers with transition tables,
serialised by an advisory lock, so bulk inserts are checked set-based too), RIGHT-3 holders and
shares (deferred constraint triggers), history kept (rights, parcels and units are never
deleted; an ended right never changes; only a right's status and end may change), and the
register and case transitions append-only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTHORITIES = [
    ("511902", "巴中市"),  # districts: certificates issued by the city bureau
    ("511903", "巴中市"),
    ("511921", "通江县"),
    ("511922", "南江县"),
    ("511923", "平昌县"),
]

ENUMS = [
    "party_kind",
    "id_type",
    "application_kind",
    "application_state",
    "parcel_layer",
    "party_role",
    "unit_kind",
    "unit_status",
    "infrastructure_category",
    "right_kind",
    "right_status",
    "co_ownership",
    "certificate_kind",
    "certificate_status",
]

OVERLAP_CHECK = """
CREATE FUNCTION parcels_check_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    clash record;
BEGIN
    -- PARCEL-2. One writer at a time: a concurrent insert of an overlapping parcel waits here
    -- and then sees this one (READ COMMITTED: each statement below takes a fresh snapshot).
    PERFORM pg_advisory_xact_lock(hashtext('registry.parcels.overlap'));
    SELECT n.code AS code, p.code AS other_code,
           round(ST_Area(ST_Intersection(n.geom, p.geom))::numeric, 2) AS area
      INTO clash
      FROM changed_parcels n
      JOIN parcels p
        ON p.id <> n.id AND p.ended_at IS NULL AND n.ended_at IS NULL
       AND p.layer = n.layer AND p.geom && n.geom AND ST_Intersects(p.geom, n.geom)
       AND (n.layer = 'surface'
            OR numrange(n.elevation_bottom, n.elevation_top, '()')
               && numrange(p.elevation_bottom, p.elevation_top, '()'))
     WHERE ST_Area(ST_Intersection(n.geom, p.geom)) > 0.05
     ORDER BY 3 DESC
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'PARCEL_OVERLAP: parcel % overlaps current parcel % by % m²',
                        clash.code, clash.other_code, clash.area
            USING ERRCODE = 'RG001',
                  DETAIL = json_build_object(
                      'parcel', clash.code, 'other_parcel', clash.other_code,
                      'overlap_m2', clash.area::text,
                      'message_zh', format('宗地 %s 与现势宗地 %s 重叠 %s 平方米',
                                           clash.code, clash.other_code, clash.area))::text;
    END IF;
    RETURN NULL;
END
$$
"""

HOLDERS_CHECK = """
CREATE FUNCTION rights_check_holders() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
    mode co_ownership;
    holder record;
    holders int := 0;
    with_share int := 0;
    num numeric := 0;
    den numeric := 1;
    g numeric;
BEGIN
    -- RIGHT-3, checked at commit for every right whose holders changed.
    IF TG_TABLE_NAME = 'rights' THEN
        rid := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        rid := OLD.right_id;
    ELSE
        rid := NEW.right_id;
    END IF;
    SELECT co_ownership INTO mode FROM rights WHERE id = rid;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    FOR holder IN SELECT share_numerator AS a, share_denominator AS b
                    FROM right_holders WHERE right_id = rid LOOP
        holders := holders + 1;
        IF holder.a IS NOT NULL THEN
            with_share := with_share + 1;
            num := num * holder.b + holder.a * den;
            den := den * holder.b;
            g := gcd(num, den);
            num := num / g;
            den := den / g;
        END IF;
    END LOOP;
    IF mode = 'shares' AND (holders = 0 OR with_share <> holders OR num <> den) THEN
        RAISE EXCEPTION 'SHARES_NOT_ONE: the shares of right % sum to %/%, not 1', rid, num, den
            USING ERRCODE = 'RG001',
                  DETAIL = json_build_object('right_id', rid, 'sum', num || '/' || den,
                      'message_zh', format('按份共有份额之和为 %s/%s，不等于1', num, den))::text;
    ELSIF mode = 'sole' AND (holders <> 1 OR with_share <> 0) THEN
        RAISE EXCEPTION 'HOLDERS_INVALID: a solely held right has exactly one holder, no share'
            USING ERRCODE = 'RG001',
                  DETAIL = json_build_object('right_id', rid,
                      'message_zh', '单独所有的权利必须有且仅有一个权利人')::text;
    ELSIF mode = 'joint' AND (holders < 2 OR with_share <> 0) THEN
        RAISE EXCEPTION 'HOLDERS_INVALID: a jointly held right has two or more holders, no shares'
            USING ERRCODE = 'RG001',
                  DETAIL = json_build_object('right_id', rid,
                      'message_zh', '共同共有的权利须有两个及以上权利人，且不登记份额')::text;
    END IF;
    RETURN NULL;
END
$$
"""

KEEP_RIGHT_HISTORY = """
CREATE FUNCTION rights_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable text[] := ARRAY['status', 'ended_at', 'ended_by_application_id'];
BEGIN
    IF OLD.status IN ('historic', 'terminated') THEN
        RAISE EXCEPTION 'APPEND_ONLY: right % has ended; its record never changes', OLD.id
            USING ERRCODE = 'RG100';
    END IF;
    IF (to_jsonb(NEW) - mutable) <> (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION 'APPEND_ONLY: only the status and end of right % may change', OLD.id
            USING ERRCODE = 'RG100',
                  HINT = 'Corrections are new rights (更正登记), never edits.';
    END IF;
    RETURN NEW;
END
$$
"""

RULES = [
    OVERLAP_CHECK,
    "CREATE TRIGGER parcels_no_overlap_insert AFTER INSERT ON parcels"
    " REFERENCING NEW TABLE AS changed_parcels"
    " FOR EACH STATEMENT EXECUTE FUNCTION parcels_check_overlap()",
    "CREATE TRIGGER parcels_no_overlap_update AFTER UPDATE ON parcels"
    " REFERENCING NEW TABLE AS changed_parcels"
    " FOR EACH STATEMENT EXECUTE FUNCTION parcels_check_overlap()",
    HOLDERS_CHECK,
    "CREATE CONSTRAINT TRIGGER rights_holders_valid AFTER INSERT ON rights"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rights_check_holders()",
    "CREATE CONSTRAINT TRIGGER right_holders_valid AFTER INSERT OR UPDATE OR DELETE"
    " ON right_holders DEFERRABLE INITIALLY DEFERRED"
    " FOR EACH ROW EXECUTE FUNCTION rights_check_holders()",
    KEEP_RIGHT_HISTORY,
    "CREATE TRIGGER rights_keep_history BEFORE UPDATE ON rights"
    " FOR EACH ROW EXECUTE FUNCTION rights_keep_history()",
    # Nothing registered is ever deleted: parcels and units end, rights become historic.
    *(
        f"CREATE TRIGGER {t}_never_deleted BEFORE DELETE ON {t}"
        " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()"
        for t in ("rights", "right_holders", "parcels", "units", "certificates")
    ),
    *(
        f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}"
        " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()"
        for t in ("rights", "right_holders", "parcels", "units", "certificates")
    ),
]

DROP_RULES = [
    *(
        f"DROP TRIGGER IF EXISTS {t}_{suffix} ON {t}"
        for t in (
            "rights",
            "right_holders",
            "parcels",
            "units",
            "certificates",
            "register_entries",
            "application_transitions",
        )
        for suffix in ("never_deleted", "no_truncate", "append_only")
    ),
    "DROP TRIGGER IF EXISTS rights_keep_history ON rights",
    "DROP TRIGGER IF EXISTS right_holders_valid ON right_holders",
    "DROP TRIGGER IF EXISTS rights_holders_valid ON rights",
    "DROP TRIGGER IF EXISTS parcels_no_overlap_update ON parcels",
    "DROP TRIGGER IF EXISTS parcels_no_overlap_insert ON parcels",
    "DROP FUNCTION IF EXISTS rights_keep_history()",
    "DROP FUNCTION IF EXISTS rights_check_holders()",
    "DROP FUNCTION IF EXISTS parcels_check_overlap()",
]


def append_only(table: str) -> None:
    """Refuse UPDATE, DELETE and TRUNCATE on `table` (function from migration 0002)."""
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()"
    )


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "number_counters",
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_number_counters")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "person",
                "enterprise",
                "public_institution",
                "government",
                "collective",
                "other",
                name="party_kind",
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column(
            "id_type",
            sa.Enum(
                "RESIDENT_ID",
                "CREDIT_CODE",
                "ORGANIZATION_CODE",
                "PASSPORT",
                "HK_MACAO_PERMIT",
                "TAIWAN_PERMIT",
                "OTHER",
                name="id_type",
            ),
            nullable=False,
        ),
        sa.Column("id_number", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=256), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("id_type", "id_number", name="uq_parties_identity"),
    )
    op.create_table(
        "issuing_authorities",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("province", sa.String(length=1), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["divisions.code"],
            name=op.f("fk_issuing_authorities_county_code_divisions"),
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_issuing_authorities")),
    )
    op.create_table(
        "register_chain_heads",
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["divisions.code"],
            name=op.f("fk_register_chain_heads_county_code_divisions"),
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_register_chain_heads")),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "first",
                "transfer",
                "change",
                "cancellation",
                "correction",
                "mortgage",
                "mortgage_cancellation",
                "seizure",
                "seizure_release",
                "objection",
                "advance_notice",
                name="application_kind",
            ),
            nullable=False,
        ),
        sa.Column("registration_type", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "submitted",
                "accepted",
                "reviewed",
                "recorded",
                "certified",
                "refused",
                "rejected",
                "withdrawn",
                name="application_state",
            ),
            nullable=False,
        ),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("terms", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("target_right_id", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.BigInteger(), nullable=False),
        sa.Column("accepted_by", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger(), nullable=True),
        sa.Column("recorded_by", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "recorded_by IS NULL OR recorded_by IS DISTINCT FROM reviewed_by",
            name=op.f("ck_applications_recorder_is_not_reviewer"),
        ),
        sa.CheckConstraint(
            "reviewed_by IS NULL OR reviewed_by IS DISTINCT FROM accepted_by",
            name=op.f("ck_applications_reviewer_is_not_acceptor"),
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"], ["users.id"], name=op.f("fk_applications_accepted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["county_code"], ["divisions.code"], name=op.f("fk_applications_county_code_divisions")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_applications_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_applications_reviewed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_applications_submitted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("number", name=op.f("uq_applications_number")),
    )
    op.create_index(
        op.f("ix_applications_county_code"), "applications", ["county_code"], unique=False
    )
    op.create_index(op.f("ix_applications_state"), "applications", ["state"], unique=False)
    op.create_geospatial_table(
        "parcels",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=19), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column(
            "layer", sa.Enum("surface", "above", "underground", name="parcel_layer"), nullable=False
        ),
        sa.Column("elevation_bottom", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column("elevation_top", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4545,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "area",
            sa.Numeric(precision=14, scale=2),
            sa.Computed("round(ST_Area(geom)::numeric, 2)", persisted=True),
            nullable=False,
        ),
        sa.Column("declared_area", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("land_use_system", sa.String(length=32), nullable=False),
        sa.Column("land_use_code", sa.String(length=8), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(layer = 'surface' AND elevation_bottom IS NULL AND elevation_top IS NULL) OR (layer = 'above' AND elevation_bottom >= 0 AND elevation_top > elevation_bottom) OR (layer = 'underground' AND elevation_top <= 0 AND elevation_top > elevation_bottom)",
            name=op.f("ck_parcels_layer_elevation"),
        ),
        sa.CheckConstraint(
            "code ~ '^[0-9]{12}[GJZ][ABSXCDEFGHWY][0-9]{5}$'", name=op.f("ck_parcels_code_format")
        ),
        sa.CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f("ck_parcels_geometry_valid")
        ),
        sa.CheckConstraint("left(code, 6) = county_code", name=op.f("ck_parcels_code_in_county")),
        sa.ForeignKeyConstraint(
            ["county_code"], ["divisions.code"], name=op.f("fk_parcels_county_code_divisions")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_parcels_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["land_use_system", "land_use_code"],
            ["land_use_codes.system", "land_use_codes.code"],
            name="fk_parcels_land_use",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcels")),
    )
    op.create_geospatial_index(
        "idx_parcels_geom",
        "parcels",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "uq_parcels_current_code",
        "parcels",
        ["code"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "application_parties",
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("party_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.Enum("holder", "obligor", name="party_role"), nullable=False),
        sa.Column("share_numerator", sa.BigInteger(), nullable=True),
        sa.Column("share_denominator", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(share_numerator IS NULL AND share_denominator IS NULL) OR (share_numerator > 0 AND share_denominator > 0 AND share_numerator <= share_denominator)",
            name=op.f("ck_application_parties_share_is_a_fraction"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_parties_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_application_parties_party_id_parties")
        ),
        sa.PrimaryKeyConstraint(
            "application_id", "party_id", "role", name=op.f("pk_application_parties")
        ),
    )
    op.create_index(
        op.f("ix_application_parties_party_id"), "application_parties", ["party_id"], unique=False
    )
    op.create_table(
        "application_transitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "submitted",
                "accepted",
                "reviewed",
                "recorded",
                "certified",
                "refused",
                "rejected",
                "withdrawn",
                name="application_state",
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "submitted",
                "accepted",
                "reviewed",
                "recorded",
                "certified",
                "refused",
                "rejected",
                "withdrawn",
                name="application_state",
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_application_transitions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_transitions_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_transitions")),
    )
    op.create_index(
        op.f("ix_application_transitions_application_id"),
        "application_transitions",
        ["application_id"],
        unique=False,
    )
    op.create_table(
        "register_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=True),
        sa.Column("entry_type", sa.String(length=32), nullable=False),
        sa.Column("unit_codes", sa.ARRAY(sa.String(length=28)), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_register_entries_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["divisions.code"],
            name=op.f("fk_register_entries_county_code_divisions"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_register_entries_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
        sa.UniqueConstraint("county_code", "seq", name="uq_register_entries_county_seq"),
    )
    op.create_index(
        op.f("ix_register_entries_application_id"),
        "register_entries",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        "ix_register_entries_unit_codes",
        "register_entries",
        ["unit_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "units",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=28), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("township_code", sa.String(length=12), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("rural_house", "infrastructure", "parking_space", "land", name="unit_kind"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("surveyed", "registered", "cancelled", name="unit_status"),
            nullable=False,
        ),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("building_no", sa.String(length=16), nullable=True),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.Column("structure", sa.String(length=32), nullable=True),
        sa.Column("floor_area", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column(
            "category",
            sa.Enum(
                "road", "bridge", "tunnel", "water", "park", "other", name="infrastructure_category"
            ),
            nullable=True,
        ),
        sa.Column("managing_body", sa.String(length=128), nullable=True),
        sa.Column("length_m", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("capacity", sa.String(length=64), nullable=True),
        sa.Column("book_value", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("completion_year", sa.Integer(), nullable=True),
        sa.Column("garage", sa.String(length=128), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("space_no", sa.String(length=16), nullable=True),
        sa.Column("space_area", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("civil_defence", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "code ~ '^[0-9]{12}[GJZ][ABSXCDEFGHWY][0-9]{5}[FLQW][0-9]{8}$'",
            name=op.f("ck_units_code_format"),
        ),
        sa.CheckConstraint(
            "kind <> 'infrastructure' OR (category IS NOT NULL AND managing_body IS NOT NULL)",
            name=op.f("ck_units_infrastructure_attributes"),
        ),
        sa.CheckConstraint(
            "kind <> 'land' OR substr(code, 20, 9) = 'W00000000'",
            name=op.f("ck_units_land_has_no_fixture"),
        ),
        sa.CheckConstraint(
            "kind <> 'parking_space' OR (substr(code, 20, 1) = 'F' AND garage IS NOT NULL AND space_no IS NOT NULL AND level IS NOT NULL AND space_area > 0)",
            name=op.f("ck_units_parking_space_attributes"),
        ),
        sa.CheckConstraint(
            "kind <> 'rural_house' OR (substr(code, 20, 1) = 'F' AND building_no IS NOT NULL AND floors >= 1 AND structure IS NOT NULL AND floor_area > 0)",
            name=op.f("ck_units_rural_house_attributes"),
        ),
        sa.CheckConstraint(
            "book_value IS NULL OR book_value >= 0", name=op.f("ck_units_book_value_not_negative")
        ),
        sa.CheckConstraint(
            "left(code, 9) = township_code AND left(code, 6) = county_code",
            name=op.f("ck_units_code_divisions"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"], ["divisions.code"], name=op.f("fk_units_county_code_divisions")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_units_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcels.id"], name=op.f("fk_units_parcel_id_parcels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    op.create_index(op.f("ix_units_parcel_id"), "units", ["parcel_id"], unique=False)
    op.create_table(
        "application_units",
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_units_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_application_units_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("application_id", "unit_id", name=op.f("pk_application_units")),
    )
    op.create_index(
        op.f("ix_application_units_unit_id"), "application_units", ["unit_id"], unique=False
    )
    op.create_table(
        "rights",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "title", "mortgage", "seizure", "objection", "advance_notice", name="right_kind"
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("provisional", "current", "historic", "terminated", name="right_status"),
            nullable=False,
        ),
        sa.Column("right_type", sa.Integer(), nullable=True),
        sa.Column("right_nature", sa.Integer(), nullable=True),
        sa.Column(
            "co_ownership",
            sa.Enum("sole", "joint", "shares", "none", name="co_ownership"),
            nullable=False,
        ),
        sa.Column("begun_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("term_start", sa.Date(), nullable=True),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("lapses_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("burdened_right_id", sa.BigInteger(), nullable=True),
        sa.Column("predecessor_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("authority", sa.String(length=128), nullable=True),
        sa.Column("document_no", sa.String(length=128), nullable=True),
        sa.Column("certificate_number", sa.String(length=64), nullable=True),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("ended_by_application_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'title') = (burdened_right_id IS NULL)",
            name=op.f("ck_rights_restriction_burdens_title"),
        ),
        sa.CheckConstraint(
            "(status IN ('provisional', 'current')) = (ended_at IS NULL)",
            name=op.f("ck_rights_lifespan_matches_status"),
        ),
        sa.CheckConstraint("amount IS NULL OR amount > 0", name=op.f("ck_rights_amount_positive")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_rights_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["burdened_right_id"], ["rights.id"], name=op.f("fk_rights_burdened_right_id_rights")
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_application_id"],
            ["applications.id"],
            name=op.f("fk_rights_ended_by_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["predecessor_id"], ["rights.id"], name=op.f("fk_rights_predecessor_id_rights")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_rights_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights")),
        sa.UniqueConstraint("certificate_number", name=op.f("uq_rights_certificate_number")),
    )
    op.create_index(
        op.f("ix_rights_burdened_right_id"), "rights", ["burdened_right_id"], unique=False
    )
    op.create_index(op.f("ix_rights_unit_id"), "rights", ["unit_id"], unique=False)
    op.create_index(
        "uq_rights_one_current_title",
        "rights",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'title' AND status = 'current'"),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column(
            "kind", sa.Enum("right", "proof", name="certificate_kind"), nullable=False
        ),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.Column("right_id", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("issued", "printed", "voided", name="certificate_status"),
            nullable=False,
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_certificates_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["right_id"], ["rights.id"], name=op.f("fk_certificates_right_id_rights")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("authority", "year", "kind", "serial", name="uq_certificates_serial"),
        sa.UniqueConstraint("number", name=op.f("uq_certificates_number")),
    )
    op.create_index(
        op.f("ix_certificates_application_id"), "certificates", ["application_id"], unique=False
    )
    op.create_index(op.f("ix_certificates_right_id"), "certificates", ["right_id"], unique=False)
    op.create_table(
        "right_holders",
        sa.Column("right_id", sa.BigInteger(), nullable=False),
        sa.Column("party_id", sa.BigInteger(), nullable=False),
        sa.Column("share_numerator", sa.BigInteger(), nullable=True),
        sa.Column("share_denominator", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(share_numerator IS NULL AND share_denominator IS NULL) OR (share_numerator > 0 AND share_denominator > 0 AND share_numerator <= share_denominator)",
            name=op.f("ck_right_holders_share_is_a_fraction"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_right_holders_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["right_id"], ["rights.id"], name=op.f("fk_right_holders_right_id_rights")
        ),
        sa.PrimaryKeyConstraint("right_id", "party_id", name=op.f("pk_right_holders")),
    )
    op.create_index(op.f("ix_right_holders_party_id"), "right_holders", ["party_id"], unique=False)
    # ### end Alembic commands ###
    op.create_foreign_key(
        "fk_applications_target_right_id_rights",
        "applications",
        "rights",
        ["target_right_id"],
        ["id"],
    )
    for statement in RULES:
        op.execute(statement)
    for table in ("register_entries", "application_transitions"):
        append_only(table)
    op.bulk_insert(
        sa.table(
            "issuing_authorities",
            sa.column("county_code"),
            sa.column("province"),
            sa.column("name"),
        ),
        [{"county_code": c, "province": "川", "name": n} for c, n in AUTHORITIES],
    )


def downgrade() -> None:
    for statement in DROP_RULES:
        op.execute(statement)
    op.drop_constraint("fk_applications_target_right_id_rights", "applications", type_="foreignkey")
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f("ix_right_holders_party_id"), table_name="right_holders")
    op.drop_table("right_holders")
    op.drop_index(op.f("ix_certificates_right_id"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_application_id"), table_name="certificates")
    op.drop_table("certificates")
    op.drop_index(
        "uq_rights_one_current_title",
        table_name="rights",
        postgresql_where=sa.text("kind = 'title' AND status = 'current'"),
    )
    op.drop_index(op.f("ix_rights_unit_id"), table_name="rights")
    op.drop_index(op.f("ix_rights_burdened_right_id"), table_name="rights")
    op.drop_table("rights")
    op.drop_index(op.f("ix_application_units_unit_id"), table_name="application_units")
    op.drop_table("application_units")
    op.drop_index(op.f("ix_units_parcel_id"), table_name="units")
    op.drop_table("units")
    op.drop_index(
        "ix_register_entries_unit_codes", table_name="register_entries", postgresql_using="gin"
    )
    op.drop_index(op.f("ix_register_entries_application_id"), table_name="register_entries")
    op.drop_table("register_entries")
    op.drop_index(
        op.f("ix_application_transitions_application_id"), table_name="application_transitions"
    )
    op.drop_table("application_transitions")
    op.drop_index(op.f("ix_application_parties_party_id"), table_name="application_parties")
    op.drop_table("application_parties")
    op.drop_index(
        "uq_parcels_current_code",
        table_name="parcels",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.drop_geospatial_index(
        "idx_parcels_geom", table_name="parcels", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("parcels")
    op.drop_index(op.f("ix_applications_state"), table_name="applications")
    op.drop_index(op.f("ix_applications_county_code"), table_name="applications")
    op.drop_table("applications")
    op.drop_table("register_chain_heads")
    op.drop_table("issuing_authorities")
    op.drop_table("parties")
    op.drop_table("number_counters")
    # ### end Alembic commands ###
    for enum in ENUMS:
        sa.Enum(name=enum).drop(op.get_bind(), checkfirst=True)

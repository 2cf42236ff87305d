"""Natural-resource registration (自然资源统一确权登记): registration units, 三调 land cover,
cases with their steps and objections, ownership, per-type attributes, entered links and
public-control zones, and the optional `division_boundaries` layer (rules NRUNIT-1..4, NRLAND-1, NROWN-1, NRCASE-1 in
registry/db/natural_resources.py).

The two code lists are seeded as literal rows, copied from registry/codes/natural_resources.py
on the day of this migration (NRCODE-2 unit types, NRCODE-3 the vendor's 三调 → resource-type
mapping): what a migration loads is part of the schema's history, so a later edit of the codes
module does not change what this migration did. `land_cover_classes` is data a bureau may edit.

NRUNIT-2 (current units do not overlap) is a statement trigger like PARCEL-2's (0003), under
its own advisory lock. Units and case steps are never deleted; steps are append-only.

Documents (要件) may link to a natural-resource case (`documents.nr_case_id`, and the uploads in
flight): alone, not beside an application, unit or parcel; frozen once it is recorded (DOC-5,
DOC-6 in registry/db/documents.py; `documents_check` replaced, 0006's put back by downgrade).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# NRCODE-2: (code, name, parent code).
UNIT_TYPES = [
    ('00', '海域', None),
    ('10', '无居民海岛', None),
    ('11', '领海基点所在海岛', '10'),
    ('12', '其他海岛', '10'),
    ('20', '自然保护地', None),
    ('21', '国家公园', '20'),
    ('22', '自然保护区', '20'),
    ('23', '自然公园', '20'),
    ('24', '其他自然保护地', '20'),
    ('30', '水流', None),
    ('31', '河流', '30'),
    ('32', '湖泊', '30'),
    ('33', '水库水面', '30'),
    ('34', '冰川及永久积雪', '30'),
    ('40', '国务院确定的重点国有林区', None),
    ('50', '湿地', None),
    ('60', '森林', None),
    ('70', '草原', None),
    ('80', '荒地', None),
    ('90', '探明储量的矿产资源', None),
    ('99', '其他', '90'),
]
# NRCODE-3: (三调 DLBM, name, resource type).
LAND_COVER_CLASSES = [
    ('0101', '水田', 'non_resource'),
    ('0102', '水浇地', 'non_resource'),
    ('0103', '旱地', 'non_resource'),
    ('0201', '果园', 'non_resource'),
    ('0202', '茶园', 'non_resource'),
    ('0203', '橡胶园', 'non_resource'),
    ('0204', '其他园地', 'non_resource'),
    ('0301', '乔木林地', 'forest'),
    ('0302', '竹林地', 'forest'),
    ('0303', '红树林地', 'wetland'),
    ('0304', '森林沼泽', 'wetland'),
    ('0305', '灌木林地', 'forest'),
    ('0306', '灌丛沼泽', 'wetland'),
    ('0307', '其他林地', 'forest'),
    ('0401', '天然牧草地', 'grassland'),
    ('0402', '沼泽草地', 'wetland'),
    ('0403', '人工牧草地', 'grassland'),
    ('0404', '其他草地', 'grassland'),
    ('05H1', '商业服务业设施用地', 'non_resource'),
    ('0508', '物流仓储用地', 'non_resource'),
    ('0601', '工业用地', 'non_resource'),
    ('0602', '采矿用地', 'non_resource'),
    ('0603', '盐田', 'wetland'),
    ('0701', '城镇住宅用地', 'non_resource'),
    ('0702', '农村宅基地', 'non_resource'),
    ('08H1', '机关团体新闻出版用地', 'non_resource'),
    ('08H2', '科教文卫用地', 'non_resource'),
    ('0809', '公用设施用地', 'non_resource'),
    ('0810', '公园与绿地', 'non_resource'),
    ('09', '特殊用地', 'non_resource'),
    ('1001', '铁路用地', 'non_resource'),
    ('1002', '轨道交通用地', 'non_resource'),
    ('1003', '公路用地', 'non_resource'),
    ('1004', '城镇村道路用地', 'non_resource'),
    ('1005', '交通服务场站用地', 'non_resource'),
    ('1006', '农村道路', 'non_resource'),
    ('1007', '机场用地', 'non_resource'),
    ('1008', '港口码头用地', 'non_resource'),
    ('1009', '管道运输用地', 'non_resource'),
    ('1101', '河流水面', 'water'),
    ('1102', '湖泊水面', 'water'),
    ('1103', '水库水面', 'water'),
    ('1104', '坑塘水面', 'non_resource'),
    ('1105', '沿海滩涂', 'wetland'),
    ('1106', '内陆滩涂', 'wetland'),
    ('1107', '沟渠', 'non_resource'),
    ('1108', '沼泽地', 'wetland'),
    ('1109', '水工建筑用地', 'non_resource'),
    ('1110', '冰川及永久积雪', 'water'),
    ('1201', '空闲地', 'non_resource'),
    ('1202', '设施农用地', 'non_resource'),
    ('1203', '田坎', 'non_resource'),
    ('1204', '盐碱地', 'non_resource'),
    ('1205', '沙地', 'wasteland'),
    ('1206', '裸土地', 'wasteland'),
    ('1207', '裸岩石砾地', 'wasteland'),
]

OVERLAP_CHECK = """
CREATE FUNCTION nr_units_check_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    clash record;
BEGIN
    -- NRUNIT-2. One writer at a time, as PARCEL-2.
    PERFORM pg_advisory_xact_lock(hashtext('registry.nr_units.overlap'));
    SELECT n.code AS code, u.code AS other_code,
           round(ST_Area(ST_Intersection(n.geom, u.geom))::numeric, 2) AS area
      INTO clash
      FROM changed_units n
      JOIN nr_units u
        ON u.id <> n.id AND u.code <> n.code
       AND u.ended_at IS NULL AND n.ended_at IS NULL
       AND u.status <> 'cancelled' AND n.status <> 'cancelled'
       AND u.geom && n.geom AND ST_Intersects(u.geom, n.geom)
     WHERE ST_Area(ST_Intersection(n.geom, u.geom)) > 0.05
     ORDER BY 3 DESC
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'NR_UNIT_OVERLAP: unit % overlaps current unit % by % m²',
                        clash.code, clash.other_code, clash.area
            USING ERRCODE = 'RG001',
                  DETAIL = json_build_object(
                      'unit', clash.code, 'other_unit', clash.other_code,
                      'overlap_m2', clash.area::text,
                      'message_zh', format('登记单元 %s 与现势登记单元 %s 重叠 %s 平方米',
                                           clash.code, clash.other_code, clash.area))::text;
    END IF;
    RETURN NULL;
END
$$
"""

RULES = [
    OVERLAP_CHECK,
    "CREATE TRIGGER nr_units_no_overlap_insert AFTER INSERT ON nr_units"
    " REFERENCING NEW TABLE AS changed_units"
    " FOR EACH STATEMENT EXECUTE FUNCTION nr_units_check_overlap()",
    "CREATE TRIGGER nr_units_no_overlap_update AFTER UPDATE ON nr_units"
    " REFERENCING NEW TABLE AS changed_units"
    " FOR EACH STATEMENT EXECUTE FUNCTION nr_units_check_overlap()",
    *(f"CREATE TRIGGER {t}_never_deleted BEFORE DELETE ON {t}"
      " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()"
      for t in ("nr_units", "nr_cases", "nr_ownership", "nr_objections")),
    *(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}"
      " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()"
      for t in ("nr_units", "nr_cases", "nr_ownership", "nr_objections", "nr_case_steps")),
    "CREATE TRIGGER nr_case_steps_append_only BEFORE UPDATE OR DELETE ON nr_case_steps"
    " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()",
]
# Documents (要件) of a natural-resource case (地籍调查成果 …): DOC-5 links and DOC-6 freezing
# as 0006 made them, extended to `nr_cases` (registry/db/documents.py).
DOCUMENTS_CHECK = """
CREATE OR REPLACE FUNCTION documents_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    case_id bigint;
    case_state text;
    case_number text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Only the removal may be written down, once; nothing else of a document changes.
        IF OLD.removed_at IS NOT NULL
           OR (NEW.id, NEW.file_sha256, NEW.kind, NEW.county_code, NEW.application_id,
               NEW.unit_id, NEW.parcel_id, NEW.nr_case_id, NEW.file_name, NEW.uploaded_by,
               NEW.uploaded_at)
              IS DISTINCT FROM
              (OLD.id, OLD.file_sha256, OLD.kind, OLD.county_code, OLD.application_id,
               OLD.unit_id, OLD.parcel_id, OLD.nr_case_id, OLD.file_name, OLD.uploaded_by,
               OLD.uploaded_at)
        THEN
            RAISE EXCEPTION 'APPEND_ONLY: a document only records its removal, once'
                USING ERRCODE = 'RG100';
        END IF;
    END IF;
    case_id := NEW.application_id;
    IF case_id IS NOT NULL THEN
        -- DOC-6. FOR SHARE waits for a recording in progress (it holds the row FOR UPDATE).
        SELECT state::text, number INTO case_state, case_number
          FROM applications WHERE id = case_id FOR SHARE;
        IF case_state IN ('recorded', 'certified') THEN
            RAISE EXCEPTION 'DOCUMENT_FROZEN: case % is recorded; its documents are frozen',
                            case_number
                USING ERRCODE = 'RG001',
                      DETAIL = json_build_object(
                          'application', case_number,
                          'message_zh', format('业务%s已登簿，要件不得增删或替换',
                                               case_number))::text;
        END IF;
    END IF;
    case_id := NEW.nr_case_id;
    IF case_id IS NOT NULL THEN
        -- DOC-6 for a natural-resource case, which its recording holds FOR UPDATE too.
        SELECT state::text, number INTO case_state, case_number
          FROM nr_cases WHERE id = case_id FOR SHARE;
        IF case_state = 'recorded' THEN
            RAISE EXCEPTION 'DOCUMENT_FROZEN: case % is recorded; its documents are frozen',
                            case_number
                USING ERRCODE = 'RG001',
                      DETAIL = json_build_object(
                          'natural_case', case_number,
                          'message_zh', format('自然资源登记业务%s已登簿，要件不得增删或替换',
                                               case_number))::text;
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""
LINKS_SOMEWHERE = ("application_id IS NOT NULL OR unit_id IS NOT NULL OR parcel_id IS NOT NULL"
                   " OR nr_case_id IS NOT NULL")
LINKS_SOMEWHERE_0006 = ("application_id IS NOT NULL OR unit_id IS NOT NULL"
                        " OR parcel_id IS NOT NULL")
NR_CASE_ALONE = ("nr_case_id IS NULL OR (application_id IS NULL AND unit_id IS NULL"
                 " AND parcel_id IS NULL)")


def _documents_check_0006() -> str:
    """0006's documents_check, which downgrade puts back."""
    spec = importlib.util.spec_from_file_location(
        "registry_migration_0006", Path(__file__).with_name("0006_documents.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.DOCUMENT_RULES).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _documents_of_natural_cases() -> None:
    for table in ("documents", "document_uploads"):
        op.add_column(table, sa.Column('nr_case_id', sa.BigInteger(), nullable=True))
        op.create_foreign_key(op.f(f'fk_{table}_nr_case_id_nr_cases'), table, 'nr_cases',
                              ['nr_case_id'], ['id'])
    op.create_index(op.f('ix_documents_nr_case_id'), 'documents', ['nr_case_id'], unique=False)
    op.drop_constraint(op.f('ck_documents_links_somewhere'), 'documents', type_='check')
    op.create_check_constraint(op.f('ck_documents_links_somewhere'), 'documents',
                               sa.text(LINKS_SOMEWHERE))
    op.create_check_constraint(op.f('ck_documents_nr_case_alone'), 'documents',
                               sa.text(NR_CASE_ALONE))
    op.execute(DOCUMENTS_CHECK)


def _no_documents_of_natural_cases() -> None:
    op.execute(_documents_check_0006())
    op.drop_constraint(op.f('ck_documents_nr_case_alone'), 'documents', type_='check')
    op.drop_constraint(op.f('ck_documents_links_somewhere'), 'documents', type_='check')
    op.create_check_constraint(op.f('ck_documents_links_somewhere'), 'documents',
                               sa.text(LINKS_SOMEWHERE_0006))
    op.drop_index(op.f('ix_documents_nr_case_id'), table_name='documents')
    for table in ("document_uploads", "documents"):
        op.drop_constraint(op.f(f'fk_{table}_nr_case_id_nr_cases'), table, type_='foreignkey')
        op.drop_column(table, 'nr_case_id')


def upgrade() -> None:
    op.create_geospatial_table('control_zones',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kind', sa.Enum('ecological_redline', 'spatial_plan', 'special_protection', 'other', name='nr_control_zone_kind'), nullable=False),
    sa.Column('block_no', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('designated_on', sa.Date(), nullable=True),
    sa.Column('authority', sa.Text(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4545, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_control_zones_geometry_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_zones'))
    )
    op.create_geospatial_index('idx_control_zones_geom', 'control_zones', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('division_boundaries',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4545, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_division_boundaries_geometry_valid')),
    sa.ForeignKeyConstraint(['code'], ['divisions.code'], name=op.f('fk_division_boundaries_code_divisions')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_division_boundaries'))
    )
    op.create_geospatial_index('idx_division_boundaries_geom', 'division_boundaries', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('land_cover_classes',
    sa.Column('dlbm', sa.String(length=4), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('resource_type', sa.Enum('water', 'wetland', 'forest', 'grassland', 'wasteland', 'non_resource', name='nr_resource_type'), nullable=False),
    sa.PrimaryKeyConstraint('dlbm', name=op.f('pk_land_cover_classes'))
    )
    op.create_table('nr_unit_types',
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('parent_code', sa.String(length=2), nullable=True),
    sa.ForeignKeyConstraint(['parent_code'], ['nr_unit_types.code'], name=op.f('fk_nr_unit_types_parent_code_nr_unit_types')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_nr_unit_types'))
    )
    op.create_table('land_cover_layers',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('source_name', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source_crs', sa.Text(), nullable=False),
    sa.Column('features', sa.Integer(), nullable=False),
    sa.Column('loaded', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('rejects', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('imported_by', sa.BigInteger(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['county_code'], ['divisions.code'], name=op.f('fk_land_cover_layers_county_code_divisions')),
    sa.ForeignKeyConstraint(['imported_by'], ['users.id'], name=op.f('fk_land_cover_layers_imported_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_land_cover_layers'))
    )
    op.create_table('nr_attributes',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('resource_type', sa.String(length=16), nullable=False),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered_by', sa.BigInteger(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], name=op.f('fk_nr_attributes_entered_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_attributes'))
    )
    op.create_index('uq_nr_attributes_current', 'nr_attributes', ['unit_code', 'resource_type'], unique=True, postgresql_where=sa.text('ended_at IS NULL'))
    op.create_table('nr_links',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('exploration', 'mining', 'water_abstraction', 'discharge', name='nr_licence_kind'), nullable=False),
    sa.Column('licence_no', sa.Text(), nullable=False),
    sa.Column('holder', sa.Text(), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('authority', sa.Text(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered_by', sa.BigInteger(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], name=op.f('fk_nr_links_entered_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_links'))
    )
    op.create_index(op.f('ix_nr_links_unit_code'), 'nr_links', ['unit_code'], unique=False)
    op.create_geospatial_table('nr_units',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('unit_type', sa.String(length=2), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('level', sa.Enum('national', 'provincial', 'city_county', name='nr_registration_level'), nullable=False),
    sa.Column('authority', sa.Text(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4545, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_ha', sa.Numeric(precision=15, scale=2), sa.Computed('round((ST_Area(geom) / 10000)::numeric, 2)', persisted=True), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('bound_east', sa.Text(), nullable=False),
    sa.Column('bound_south', sa.Text(), nullable=False),
    sa.Column('bound_west', sa.Text(), nullable=False),
    sa.Column('bound_north', sa.Text(), nullable=False),
    sa.Column('state_area_ha', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('collective_area_ha', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('disputed_area_ha', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('status', sa.Enum('predelimited', 'registered', 'cancelled', name='nr_unit_status'), nullable=False),
    sa.Column('predecessor_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_nr_units_geometry_valid')),
    sa.CheckConstraint('coalesce(state_area_ha, 0) >= 0 AND coalesce(collective_area_ha, 0) >= 0 AND coalesce(disputed_area_ha, 0) >= 0', name=op.f('ck_nr_units_areas_not_negative')),
    sa.CheckConstraint('state_area_ha IS NULL OR collective_area_ha IS NULL OR disputed_area_ha IS NULL OR abs(state_area_ha + collective_area_ha + disputed_area_ha - round((ST_Area(geom) / 10000)::numeric, 2)) <= 0.01', name=op.f('ck_nr_units_ownership_areas_sum')),
    sa.ForeignKeyConstraint(['county_code'], ['divisions.code'], name=op.f('fk_nr_units_county_code_divisions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_nr_units_created_by_users')),
    sa.ForeignKeyConstraint(['predecessor_id'], ['nr_units.id'], name=op.f('fk_nr_units_predecessor_id_nr_units')),
    sa.ForeignKeyConstraint(['unit_type'], ['nr_unit_types.code'], name=op.f('fk_nr_units_unit_type_nr_unit_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_units'))
    )
    op.create_geospatial_index('idx_nr_units_geom', 'nr_units', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_nr_units_code'), 'nr_units', ['code'], unique=False)
    op.create_index('uq_nr_units_current_code', 'nr_units', ['code'], unique=True, postgresql_where=sa.text('ended_at IS NULL'))
    op.create_geospatial_table('land_cover',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('layer_id', sa.BigInteger(), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('bsm', sa.Text(), nullable=False),
    sa.Column('dlbm', sa.String(length=4), nullable=False),
    sa.Column('qsxz', sa.Text(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4545, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ST_IsValid(geom) AND NOT ST_IsEmpty(geom)', name=op.f('ck_land_cover_geometry_valid')),
    sa.ForeignKeyConstraint(['county_code'], ['divisions.code'], name=op.f('fk_land_cover_county_code_divisions')),
    sa.ForeignKeyConstraint(['dlbm'], ['land_cover_classes.dlbm'], name=op.f('fk_land_cover_dlbm_land_cover_classes')),
    sa.ForeignKeyConstraint(['layer_id'], ['land_cover_layers.id'], name=op.f('fk_land_cover_layer_id_land_cover_layers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_land_cover'))
    )
    op.create_index(op.f('ix_land_cover_county_code'), 'land_cover', ['county_code'], unique=False)
    op.create_geospatial_index('ix_land_cover_current_geom', 'land_cover', ['geom'], unique=False, postgresql_using='gist', postgresql_where=sa.text('ended_at IS NULL'), postgresql_ops={})
    op.create_index(op.f('ix_land_cover_layer_id'), 'land_cover', ['layer_id'], unique=False)
    op.create_table('nr_cases',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('first', 'change', 'cancellation', 'correction', name='nr_case_kind'), nullable=False),
    sa.Column('state', sa.Enum('predelimited', 'opened', 'noticed', 'surveyed', 'reviewed', 'published', 'recorded', name='nr_case_state'), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.BigInteger(), nullable=False),
    sa.Column('proposed', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('notice_published_on', sa.Date(), nullable=True),
    sa.Column('notice_ends_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('reviewed_by', sa.BigInteger(), nullable=True),
    sa.Column('recorded_by', sa.BigInteger(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['county_code'], ['divisions.code'], name=op.f('fk_nr_cases_county_code_divisions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_nr_cases_created_by_users')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_nr_cases_recorded_by_users')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_nr_cases_reviewed_by_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['nr_units.id'], name=op.f('fk_nr_cases_unit_id_nr_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_nr_cases_number'))
    )
    op.create_index(op.f('ix_nr_cases_unit_code'), 'nr_cases', ['unit_code'], unique=False)
    op.create_table('nr_case_steps',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_user', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['by_user'], ['users.id'], name=op.f('fk_nr_case_steps_by_user_users')),
    sa.ForeignKeyConstraint(['case_id'], ['nr_cases.id'], name=op.f('fk_nr_case_steps_case_id_nr_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_case_steps'))
    )
    op.create_index(op.f('ix_nr_case_steps_case_id'), 'nr_case_steps', ['case_id'], unique=False)
    op.create_table('nr_objections',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('objector', sa.Text(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('received_by', sa.BigInteger(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('upheld', sa.Boolean(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_nr_objections_answered_by_users')),
    sa.ForeignKeyConstraint(['case_id'], ['nr_cases.id'], name=op.f('fk_nr_objections_case_id_nr_cases')),
    sa.ForeignKeyConstraint(['received_by'], ['users.id'], name=op.f('fk_nr_objections_received_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_objections'))
    )
    op.create_index(op.f('ix_nr_objections_case_id'), 'nr_objections', ['case_id'], unique=False)
    op.create_table('nr_ownership',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.Enum('state', 'collective', name='nr_owner'), nullable=False),
    sa.Column('duty_body', sa.Text(), nullable=False),
    sa.Column('exercise', sa.Enum('direct', 'entrusted', name='nr_exercise'), nullable=False),
    sa.Column('duty_content', sa.Text(), nullable=False),
    sa.Column('agent_body', sa.Text(), nullable=True),
    sa.Column('agent_content', sa.Text(), nullable=False),
    sa.Column('case_id', sa.BigInteger(), nullable=False),
    sa.Column('begun_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(exercise = 'entrusted') = (agent_body IS NOT NULL)", name=op.f('ck_nr_ownership_agent_when_entrusted')),
    sa.ForeignKeyConstraint(['case_id'], ['nr_cases.id'], name=op.f('fk_nr_ownership_case_id_nr_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nr_ownership'))
    )
    op.create_index('uq_nr_ownership_current', 'nr_ownership', ['unit_code'], unique=True, postgresql_where=sa.text('ended_at IS NULL'))
    unit_types = sa.table("nr_unit_types", sa.column("code"), sa.column("name"),
                          sa.column("parent_code"))
    op.bulk_insert(unit_types, [{"code": c, "name": n, "parent_code": p}
                                for c, n, p in UNIT_TYPES if p is None])
    op.bulk_insert(unit_types, [{"code": c, "name": n, "parent_code": p}
                                for c, n, p in UNIT_TYPES if p is not None])
    classes = sa.table("land_cover_classes", sa.column("dlbm"), sa.column("name"),
                       sa.column("resource_type", postgresql.ENUM(name="nr_resource_type",
                                                                  create_type=False)))
    op.bulk_insert(classes, [{"dlbm": c, "name": n, "resource_type": t}
                             for c, n, t in LAND_COVER_CLASSES])
    for statement in RULES:
        op.execute(statement)
    # A unit's history: its entries name no real-estate unit (registry/db/register.py).
    op.execute("CREATE INDEX ix_register_entries_nr_unit ON register_entries"
               " ((payload->'body'->'natural_resource'->'unit'->>'code'))"
               " WHERE entry_type LIKE 'nr\\_%'")
    # The papers of natural-resource registration (registry/db/papers.py IssuedPaperKind);
    # nothing in this transaction uses the values. Downgrade leaves them: harmless, and
    # PostgreSQL cannot drop an enum value.
    for value in ("natural_register", "natural_notice", "natural_certificate"):
        op.execute(f"ALTER TYPE issued_paper_kind ADD VALUE IF NOT EXISTS '{value}'")
    _documents_of_natural_cases()


def downgrade() -> None:
    _no_documents_of_natural_cases()
    op.execute("DROP INDEX IF EXISTS ix_register_entries_nr_unit")
    for table in ("nr_units", "nr_cases", "nr_ownership", "nr_objections", "nr_case_steps"):
        for suffix in ("never_deleted", "no_truncate", "append_only", "no_overlap_insert",
                       "no_overlap_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS nr_units_check_overlap()")
    op.drop_index('uq_nr_ownership_current', table_name='nr_ownership', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_table('nr_ownership')
    op.drop_index(op.f('ix_nr_objections_case_id'), table_name='nr_objections')
    op.drop_table('nr_objections')
    op.drop_index(op.f('ix_nr_case_steps_case_id'), table_name='nr_case_steps')
    op.drop_table('nr_case_steps')
    op.drop_index(op.f('ix_nr_cases_unit_code'), table_name='nr_cases')
    op.drop_table('nr_cases')
    op.drop_index(op.f('ix_land_cover_layer_id'), table_name='land_cover')
    op.drop_geospatial_index('ix_land_cover_current_geom', table_name='land_cover', postgresql_using='gist', postgresql_where=sa.text('ended_at IS NULL'), column_name='geom')
    op.drop_index(op.f('ix_land_cover_county_code'), table_name='land_cover')
    op.drop_geospatial_table('land_cover')
    op.drop_index('uq_nr_units_current_code', table_name='nr_units', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index(op.f('ix_nr_units_code'), table_name='nr_units')
    op.drop_geospatial_index('idx_nr_units_geom', table_name='nr_units', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('nr_units')
    op.drop_index(op.f('ix_nr_links_unit_code'), table_name='nr_links')
    op.drop_table('nr_links')
    op.drop_index('uq_nr_attributes_current', table_name='nr_attributes', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_table('nr_attributes')
    op.drop_table('land_cover_layers')
    op.drop_table('nr_unit_types')
    op.drop_table('land_cover_classes')
    op.drop_geospatial_index('idx_division_boundaries_geom', table_name='division_boundaries', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('division_boundaries')
    op.drop_geospatial_index('idx_control_zones_geom', table_name='control_zones', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('control_zones')
    for enum in ("nr_control_zone_kind", "nr_resource_type", "nr_licence_kind",
                 "nr_registration_level", "nr_unit_status", "nr_case_kind", "nr_case_state",
                 "nr_owner", "nr_exercise"):
        op.execute(f"DROP TYPE IF EXISTS {enum}")

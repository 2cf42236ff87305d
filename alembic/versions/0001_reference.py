"""PostGIS and reference data: divisions of 巴中市 and GB/T 21010 land-use codes.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

The rows below are part of the schema's history: later changes to reference data come as new
migrations, never as edits here.

Township codes are a sample for development and demonstration; the numbering follows the
national rule (001–099 街道, 100–199 镇, 200–299 乡) but the exact numbers of real townships
must be loaded from the authority's list before production use.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIVISIONS: list[tuple[str, str, str, str | None]] = [
    ("510000", "四川省", "province", None),
    ("511900", "巴中市", "city", "510000"),
    ("511902", "巴州区", "county", "511900"),
    ("511903", "恩阳区", "county", "511900"),
    ("511921", "通江县", "county", "511900"),
    ("511922", "南江县", "county", "511900"),
    ("511923", "平昌县", "county", "511900"),
    # 巴州区
    ("511902001", "东城街道", "township", "511902"),
    ("511902002", "西城街道", "township", "511902"),
    ("511902003", "江北街道", "township", "511902"),
    ("511902101", "曾口镇", "township", "511902"),
    ("511902102", "清江镇", "township", "511902"),
    ("511902103", "水宁寺镇", "township", "511902"),
    # 恩阳区
    ("511903001", "登科街道", "township", "511903"),
    ("511903101", "恩阳镇", "township", "511903"),
    ("511903102", "柳林镇", "township", "511903"),
    ("511903103", "玉山镇", "township", "511903"),
    # 通江县
    ("511921101", "诺江镇", "township", "511921"),
    ("511921102", "民胜镇", "township", "511921"),
    ("511921103", "沙溪镇", "township", "511921"),
    ("511921104", "至诚镇", "township", "511921"),
    # 南江县
    ("511922101", "南江镇", "township", "511922"),
    ("511922102", "东榆镇", "township", "511922"),
    ("511922103", "长赤镇", "township", "511922"),
    ("511922104", "光雾山镇", "township", "511922"),
    # 平昌县
    ("511923101", "江口镇", "township", "511923"),
    ("511923102", "驷马镇", "township", "511923"),
    ("511923103", "响滩镇", "township", "511923"),
    ("511923104", "白衣镇", "township", "511923"),
]

GB_T_21010_2017 = "GB/T 21010-2017"
LAND_SEA_2023 = "用地用海分类2023"

LAND_USE: list[tuple[str, str, str, str | None]] = [
    (GB_T_21010_2017, "01", "耕地", None),
    (GB_T_21010_2017, "0101", "水田", "01"),
    (GB_T_21010_2017, "0102", "水浇地", "01"),
    (GB_T_21010_2017, "0103", "旱地", "01"),
    (GB_T_21010_2017, "02", "园地", None),
    (GB_T_21010_2017, "03", "林地", None),
    (GB_T_21010_2017, "04", "草地", None),
    (GB_T_21010_2017, "05", "商服用地", None),
    (GB_T_21010_2017, "06", "工矿仓储用地", None),
    (GB_T_21010_2017, "07", "住宅用地", None),
    (GB_T_21010_2017, "0701", "城镇住宅用地", "07"),
    (GB_T_21010_2017, "0702", "农村宅基地", "07"),
    (GB_T_21010_2017, "08", "公共管理与公共服务用地", None),
    (GB_T_21010_2017, "0801", "机关团体用地", "08"),
    (GB_T_21010_2017, "0809", "公用设施用地", "08"),
    (GB_T_21010_2017, "0810", "公园与绿地", "08"),
    (GB_T_21010_2017, "09", "特殊用地", None),
    (GB_T_21010_2017, "10", "交通运输用地", None),
    (GB_T_21010_2017, "1001", "铁路用地", "10"),
    (GB_T_21010_2017, "1002", "轨道交通用地", "10"),
    (GB_T_21010_2017, "1003", "公路用地", "10"),
    (GB_T_21010_2017, "1004", "城镇村道路用地", "10"),
    (GB_T_21010_2017, "1005", "交通服务场站用地", "10"),
    (GB_T_21010_2017, "1006", "农村道路", "10"),
    (GB_T_21010_2017, "11", "水域及水利设施用地", None),
    (GB_T_21010_2017, "1101", "河流水面", "11"),
    (GB_T_21010_2017, "1104", "坑塘水面", "11"),
    (GB_T_21010_2017, "1109", "水工建筑用地", "11"),
    (GB_T_21010_2017, "12", "其他土地", None),
    (LAND_SEA_2023, "07", "居住用地", None),
    (LAND_SEA_2023, "0701", "城镇住宅用地", "07"),
    (LAND_SEA_2023, "0703", "农村宅基地", "07"),
    (LAND_SEA_2023, "12", "交通运输用地", None),
    (LAND_SEA_2023, "1201", "铁路用地", "12"),
    (LAND_SEA_2023, "1202", "公路用地", "12"),
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    division_level = sa.Enum("province", "city", "county", "township", "village",
                             name="division_level")
    divisions = op.create_table(
        "divisions",
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("level", division_level, nullable=False),
        sa.Column("parent_code", sa.String(12), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'",
                           name=op.f("ck_divisions_code_format")),
        sa.CheckConstraint("parent_code IS NULL OR starts_with(code, left(parent_code, 2))",
                           name=op.f("ck_divisions_parent_same_province")),
        sa.ForeignKeyConstraint(["parent_code"], ["divisions.code"],
                                name=op.f("fk_divisions_parent_code_divisions")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_divisions")),
    )
    op.create_index(op.f("ix_divisions_parent_code"), "divisions", ["parent_code"])
    land_use = op.create_table(
        "land_use_codes",
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("parent_code", sa.String(8), nullable=True),
        sa.PrimaryKeyConstraint("system", "code", name=op.f("pk_land_use_codes")),
    )
    op.bulk_insert(divisions, [
        {"code": c, "name": n, "level": lv, "parent_code": p} for c, n, lv, p in DIVISIONS
    ])
    op.bulk_insert(land_use, [
        {"system": s, "code": c, "name": n, "parent_code": p} for s, c, n, p in LAND_USE
    ])


def downgrade() -> None:
    op.drop_table("land_use_codes")
    op.drop_index(op.f("ix_divisions_parent_code"), table_name="divisions")
    op.drop_table("divisions")
    sa.Enum(name="division_level").drop(op.get_bind(), checkfirst=True)

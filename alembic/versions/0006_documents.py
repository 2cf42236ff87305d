"""Documents (要件): stored files and pages, documents and their links, requirements per kind
of case (seeded here, edited by an admin), large uploads in flight.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Rules the database enforces (stated in registry/db/documents.py): DOC-1 stored files and pages
never change or disappear; documents are never deleted, and only their removal may be written
down, once; DOC-6 the documents of a recorded or certified case are frozen (`DOCUMENT_FROZEN`);
DOC-5 a case cannot be accepted without the kinds its kind requires (`MISSING_DOCUMENTS`, a
backstop for the service's own check).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_KINDS = (
    "application_form",
    "id_proof",
    "title_source",
    "survey_result",
    "site_photo",
    "court_order",
    "contract",
    "other",
)
document_kind = postgresql.ENUM(*DOCUMENT_KINDS, name="document_kind", create_type=False)
application_kind = postgresql.ENUM(name="application_kind", create_type=False)

# What each kind of case must carry before it is accepted: a proposal to be edited by an admin
# (setDocumentRequirements) as the bureau's rules say. 申请书, 身份证明, 权属来源, 权籍调查成果,
# 合同, 法院文书.
REQUIREMENTS = {
    "first": ("application_form", "id_proof", "title_source", "survey_result"),
    "transfer": ("application_form", "id_proof", "title_source", "contract"),
    "change": ("application_form", "id_proof", "title_source"),
    "cancellation": ("application_form", "id_proof"),
    "correction": ("application_form", "id_proof", "title_source"),
    "mortgage": ("application_form", "id_proof", "contract"),
    "mortgage_cancellation": ("application_form", "id_proof"),
    "seizure": ("court_order",),
    "seizure_release": ("court_order",),
    "objection": ("application_form", "id_proof"),
    "advance_notice": ("application_form", "id_proof", "contract"),
}

DOCUMENT_RULES = """
CREATE FUNCTION documents_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    case_id bigint;
    case_state application_state;
    case_number text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Only the removal may be written down, once; nothing else of a document changes.
        IF OLD.removed_at IS NOT NULL
           OR (NEW.id, NEW.file_sha256, NEW.kind, NEW.county_code, NEW.application_id,
               NEW.unit_id, NEW.parcel_id, NEW.file_name, NEW.uploaded_by, NEW.uploaded_at)
              IS DISTINCT FROM
              (OLD.id, OLD.file_sha256, OLD.kind, OLD.county_code, OLD.application_id,
               OLD.unit_id, OLD.parcel_id, OLD.file_name, OLD.uploaded_by, OLD.uploaded_at)
        THEN
            RAISE EXCEPTION 'APPEND_ONLY: a document only records its removal, once'
                USING ERRCODE = 'RG100';
        END IF;
    END IF;
    case_id := NEW.application_id;
    IF case_id IS NOT NULL THEN
        -- DOC-6. FOR SHARE waits for a recording in progress (it holds the row FOR UPDATE).
        SELECT state, number INTO case_state, case_number
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
    RETURN NEW;
END
$$
"""

ACCEPTANCE_RULE = """
CREATE FUNCTION applications_check_documents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text[];
BEGIN
    -- DOC-5, backstop of services.documents.require_documents.
    SELECT array_agg(r.document_kind::text ORDER BY r.document_kind) INTO missing
      FROM document_requirements r
     WHERE r.application_kind = NEW.kind
       AND NOT EXISTS (SELECT 1 FROM documents d
                        WHERE d.application_id = NEW.id AND d.kind = r.document_kind
                          AND d.removed_at IS NULL);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'MISSING_DOCUMENTS: case % lacks %', NEW.number,
                        array_to_string(missing, ', ')
            USING ERRCODE = 'RG001',
                  DETAIL = json_build_object(
                      'missing', to_json(missing),
                      'message_zh', format('业务%s缺少要件：%s', NEW.number,
                                           array_to_string(missing, '、')))::text;
    END IF;
    RETURN NEW;
END
$$
"""

RULES = [
    DOCUMENT_RULES,
    "CREATE TRIGGER documents_check BEFORE INSERT OR UPDATE ON documents"
    " FOR EACH ROW EXECUTE FUNCTION documents_check()",
    "CREATE TRIGGER documents_never_deleted BEFORE DELETE ON documents"
    " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()",
    "CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents"
    " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()",
    ACCEPTANCE_RULE,
    "CREATE TRIGGER applications_check_documents BEFORE UPDATE OF state ON applications"
    " FOR EACH ROW WHEN (OLD.state = 'submitted' AND NEW.state = 'accepted')"
    " EXECUTE FUNCTION applications_check_documents()",
]
for _table in ("document_files", "document_pages"):
    RULES += [
        f"CREATE TRIGGER {_table}_append_only BEFORE UPDATE OR DELETE ON {_table}"
        " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()",
        f"CREATE TRIGGER {_table}_no_truncate BEFORE TRUNCATE ON {_table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()",
    ]

DROP_RULES = [
    "DROP TRIGGER IF EXISTS applications_check_documents ON applications",
    "DROP FUNCTION IF EXISTS applications_check_documents()",
    "DROP TRIGGER IF EXISTS documents_check ON documents",
    "DROP TRIGGER IF EXISTS documents_never_deleted ON documents",
    "DROP TRIGGER IF EXISTS documents_no_truncate ON documents",
    "DROP FUNCTION IF EXISTS documents_check()",
] + [
    f"DROP TRIGGER IF EXISTS {t}_{suffix} ON {t}"
    for t in ("document_files", "document_pages")
    for suffix in ("append_only", "no_truncate")
]


def upgrade() -> None:
    document_kind.create(op.get_bind(), checkfirst=True)
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "document_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_document_files_sha256_is_hex")
        ),
        sa.CheckConstraint("page_count >= 1", name=op.f("ck_document_files_has_pages")),
        sa.CheckConstraint("size > 0", name=op.f("ck_document_files_size_positive")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_document_files")),
        sa.UniqueConstraint("object_key", name=op.f("uq_document_files_object_key")),
    )
    op.create_table(
        "document_requirements",
        sa.Column("application_kind", application_kind, nullable=False),
        sa.Column("document_kind", document_kind, nullable=False),
        sa.PrimaryKeyConstraint(
            "application_kind", "document_kind", name=op.f("pk_document_requirements")
        ),
    )
    op.create_table(
        "document_pages",
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("thumbnail_key", sa.Text(), nullable=True),
        sa.Column("thumbnail_sha256", sa.String(length=64), nullable=True),
        sa.Column("thumbnail_size", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "thumbnail_sha256 IS NULL OR thumbnail_sha256 ~ '^[0-9a-f]{64}$'",
            name=op.f("ck_document_pages_thumbnail_sha256_is_hex"),
        ),
        sa.CheckConstraint(
            "(thumbnail_key IS NULL) = (thumbnail_sha256 IS NULL) AND (thumbnail_key IS NULL) = (thumbnail_size IS NULL)",
            name=op.f("ck_document_pages_thumbnail_complete"),
        ),
        sa.CheckConstraint("page_no >= 1", name=op.f("ck_document_pages_page_no_positive")),
        sa.ForeignKeyConstraint(
            ["file_sha256"],
            ["document_files.sha256"],
            name=op.f("fk_document_pages_file_sha256_document_files"),
        ),
        sa.PrimaryKeyConstraint("file_sha256", "page_no", name=op.f("pk_document_pages")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", document_kind, nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("unit_id", sa.BigInteger(), nullable=True),
        sa.Column("parcel_id", sa.BigInteger(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.BigInteger(), nullable=True),
        sa.Column("removal_reason", sa.Text(), nullable=False),
        sa.Column("replaced_by_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(removed_at IS NULL) = (removed_by IS NULL)",
            name=op.f("ck_documents_removal_complete"),
        ),
        sa.CheckConstraint(
            "application_id IS NOT NULL OR unit_id IS NOT NULL OR parcel_id IS NOT NULL",
            name=op.f("ck_documents_links_somewhere"),
        ),
        sa.CheckConstraint(
            "replaced_by_id IS NULL OR removed_at IS NOT NULL",
            name=op.f("ck_documents_replaced_means_removed"),
        ),
        sa.CheckConstraint(
            "unit_id IS NULL OR parcel_id IS NULL", name=op.f("ck_documents_unit_or_parcel")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_documents_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"], ["divisions.code"], name=op.f("fk_documents_county_code_divisions")
        ),
        sa.ForeignKeyConstraint(
            ["file_sha256"],
            ["document_files.sha256"],
            name=op.f("fk_documents_file_sha256_document_files"),
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcels.id"], name=op.f("fk_documents_parcel_id_parcels")
        ),
        sa.ForeignKeyConstraint(
            ["removed_by"], ["users.id"], name=op.f("fk_documents_removed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["documents.id"], name="fk_documents_replaced_by_id_documents"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_documents_unit_id_units")),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_documents_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_index(
        op.f("ix_documents_application_id"), "documents", ["application_id"], unique=False
    )
    op.create_index(op.f("ix_documents_file_sha256"), "documents", ["file_sha256"], unique=False)
    op.create_index(op.f("ix_documents_parcel_id"), "documents", ["parcel_id"], unique=False)
    op.create_index(op.f("ix_documents_unit_id"), "documents", ["unit_id"], unique=False)
    op.create_table(
        "document_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", document_kind, nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("unit_id", sa.BigInteger(), nullable=True),
        sa.Column("parcel_id", sa.BigInteger(), nullable=True),
        sa.Column("replaces_id", sa.BigInteger(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_document_uploads_sha256_is_hex")
        ),
        sa.CheckConstraint(
            "(completed_at IS NULL) = (document_id IS NULL)",
            name=op.f("ck_document_uploads_completion_complete"),
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_document_uploads_size_positive")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_document_uploads_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["county_code"],
            ["divisions.code"],
            name=op.f("fk_document_uploads_county_code_divisions"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_uploads_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcels.id"], name=op.f("fk_document_uploads_parcel_id_parcels")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["documents.id"],
            name=op.f("fk_document_uploads_replaces_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_document_uploads_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_document_uploads_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_uploads")),
        sa.UniqueConstraint("object_key", name=op.f("uq_document_uploads_object_key")),
    )
    # ### end Alembic commands ###
    for statement in RULES:
        op.execute(statement)
    op.bulk_insert(
        sa.table(
            "document_requirements",
            sa.column("application_kind", application_kind),
            sa.column("document_kind", document_kind),
        ),
        [
            {"application_kind": case, "document_kind": kind}
            for case, kinds in REQUIREMENTS.items()
            for kind in kinds
        ],
    )


def downgrade() -> None:
    for statement in DROP_RULES:
        op.execute(statement)
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table("document_uploads")
    op.drop_index(op.f("ix_documents_unit_id"), table_name="documents")
    op.drop_index(op.f("ix_documents_parcel_id"), table_name="documents")
    op.drop_index(op.f("ix_documents_file_sha256"), table_name="documents")
    op.drop_index(op.f("ix_documents_application_id"), table_name="documents")
    op.drop_table("documents")
    op.drop_table("document_pages")
    op.drop_table("document_requirements")
    op.drop_table("document_files")
    # ### end Alembic commands ###
    document_kind.drop(op.get_bind(), checkfirst=True)

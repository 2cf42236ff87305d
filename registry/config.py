"""Settings from the environment (pydantic-settings).

Every setting has a sensible development default; production sets them explicitly (see
docker/.env.example). Secrets (database password inside DATABASE_URL, S3 keys, token pepper)
come only from here — never from code or requests — and are never logged; likewise the
trading center's HMAC key (TRADING_CENTER_HMAC_SECRET).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.codes.natural_resources import DEFAULT_NOTICE_WORKING_DAYS, DEFAULT_UNIT_CODE_PATTERN

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Runtime configuration. Environment variable names are the field names in upper case."""

    # hide_input_in_errors: a refused value (a key, a URL with its password) is never echoed.
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore",
                                      hide_input_in_errors=True)

    registry_env: Environment = Environment.DEVELOPMENT

    # Database: an SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host:5432/registry.
    # Unset means "start the private development stack under ./var".
    database_url: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # REPLICA-1..4 (registry/db/replicas.py): PostgreSQL streaming standbys for reads, one URL
    # or several, comma-separated (a comma inside a password is percent-encoded). Unset: every
    # read goes to DATABASE_URL, as without replicas. READ_AFTER_WAIT_MS: how long a read
    # carrying an X-Registry-After token waits for a standby to replay it before it goes to the
    # primary; REPLICA_RETRY_SECONDS: how long a standby that failed is left alone.
    database_read_url: SecretStr | None = None
    read_after_wait_ms: int = Field(default=200, ge=0, le=10_000)
    replica_retry_seconds: float = Field(default=5.0, ge=0.1, le=3600)

    # Object storage (any S3 API). Unset endpoint means "start the private stack".
    s3_endpoint: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "registry"
    s3_region: str = "us-east-1"
    # The endpoint clients reach for presigned URLs when it differs from S3_ENDPOINT (e.g.
    # https://files.example.org in front of http://minio:9000); the signature covers the host.
    s3_public_endpoint: str | None = None

    # Scanned documents (要件). Every object key starts with this prefix: keys come only from
    # configuration and content hashes, never from requests.
    documents_prefix: str = Field(default="documents/", pattern=r"^([a-z0-9][a-z0-9._-]*/)*$")
    # RESUME-1 (registry/services/survey_import/files.py): the input files of a survey import
    # started through the API, kept until its outcome is final. Never inside DOCUMENTS_PREFIX (whose
    # unreferenced objects `registry storage check --repair` removes), nor around it.
    import_files_prefix: str = Field(default="imports/",
                                     pattern=r"^([a-z0-9][a-z0-9._-]*/)+$")
    document_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, le=2**31 - 1)
    # Pixels per page, checked from the header before anything is decoded (decompression bombs).
    document_max_pixels: int = Field(default=80_000_000, ge=10_000)
    document_max_pages: int = Field(default=1000, ge=1)
    document_thumbnail_px: int = Field(default=320, ge=32, le=2048)
    # Decoded pixels the service holds at once, over all its uploads (storage/scans.py SCAN-5):
    # each of WEB_WORKERS processes gets an equal share (at least 16 MB).
    document_decode_memory_mb: int = Field(default=384, ge=16)
    # The service's worker processes (`registry serve --workers` sets it for its workers), and
    # the lock file they share for decodes larger than one worker's share (set by serve).
    web_workers: int = Field(default=1, ge=1, le=64)
    document_decode_gate: str | None = None
    # How long presigned GET (originals, thumbnails) and PUT (large scans) URLs stay valid.
    document_url_expiry_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    upload_url_expiry_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # `registry storage check --repair` removes unreferenced objects older than this.
    storage_orphan_grace_seconds: int = Field(default=24 * 3600, ge=0)

    # Papers (registry/papers/signing.py SIGN-1/2): the bureau's PAdES signing key and
    # certificate (PEM files; the private stack generates a development pair in VAR_DIR), and
    # the address the QR code on a paper points to for the public check (GET /verify/…).
    papers_signing_key: str | None = None
    papers_signing_cert: str | None = None
    papers_verify_base_url: str = Field(default="http://127.0.0.1:8000",
                                        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")

    # 补证 (CERT-2 in registry/services/registration/replacement.py): working days a loss
    # notice must have run before a lost certificate is reissued (实施细则 §22: 15).
    loss_notice_working_days: int = Field(default=15, ge=0, le=365)

    # 自然资源统一确权登记 (NRCODE-1/4 in registry/codes/natural_resources.py): the unit-code
    # format is not verified, so it is a pattern here (named groups `division` and `type` are
    # checked when present); the public notice's length in working days [unsure: 15].
    natural_resource_unit_code_pattern: str = DEFAULT_UNIT_CODE_PATTERN
    natural_resource_notice_working_days: int = Field(default=DEFAULT_NOTICE_WORKING_DAYS,
                                                      ge=1, le=365)
    # NRPAPER-11 (registry/services/natural_resources/papers.py): the counties (codes, comma-
    # separated) that issue the optional 自然资源所有权证书; empty: none does.
    natural_resource_certificate_counties: str = Field(
        default="", pattern=r"^\s*([0-9]{6,12}\s*(,\s*[0-9]{6,12}\s*)*)?$")

    # Where the private development stack keeps its data, keys and logs.
    var_dir: str = "var"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"

    # Query cost bounds (design.md §5): every query is bounded from the start.
    max_query_depth: int = Field(default=12, ge=2, le=50)
    max_aliases: int = Field(default=20, ge=1, le=500)
    max_tokens: int = Field(default=3000, ge=100, le=100_000)
    # REQ-1/REQ-2 (registry/api/request_limits.py): a /graphql body and a query text, in bytes
    # and characters. The body fits a 10 MB survey file sent inline as base64 (13.4 MB); the
    # longest committed operation is under 1 KB.
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024,
                                   le=256 * 1024 * 1024)
    max_query_chars: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    default_page_size: int = Field(default=20, ge=1, le=1000)
    # Compiled reads (registry/api/compiled): queries on the hot types answered by one SQL
    # statement that builds the JSON; off, every query is resolved field by field.
    compiled_reads: bool = True
    # COMPILE-1 checked on every compiled query: resolved field by field too, and compared
    # (doubles the work; for tests and staging).
    compiled_reads_check: bool = False

    # The trading center's signed transfer batches (POST /ledger/batches): the shared HMAC-SHA256
    # key, and how far a batch's timestamp may be from our clock. Unset: the endpoint is off.
    trading_center_hmac_secret: SecretStr | None = None
    trading_center_max_skew_seconds: int = Field(default=300, ge=10, le=3600)
    # How often a running service records the expiry of pending transfers whose timeout has
    # passed, releasing what they held (registry/sweeper.py). 0: never (`registry ledger
    # expire` from cron instead).
    ledger_expiry_sweep_seconds: float = Field(default=30, ge=0, le=24 * 3600)

    # The national exchange (汇交, registry/services/exchange, docs/exchange.md). Every
    # recording queues its message whatever these say; EXCHANGE_URL unset: nothing is sent.
    # EXCHANGE_TOKEN (bearer) and/or EXCHANGE_CLIENT_CERT/KEY (PEM, mutual TLS) authenticate
    # the sender, EXCHANGE_CA_FILE the platform. EXCHANGE_SEND_SECONDS: how often a running
    # service sends (0: never; `registry exchange send` from cron instead). A failed attempt is
    # retried after EXCHANGE_RETRY_SECONDS, doubling up to EXCHANGE_MAX_BACKOFF_SECONDS.
    # EXCHANGE_MAPPING_FILE: the [unsure] codes (RecType, 证件种类 …); unset: the shipped one.
    exchange_url: str | None = Field(default=None, pattern=r"^(https?://\S+)?$")
    exchange_token: SecretStr | None = None
    exchange_client_cert: str | None = None
    exchange_client_key: str | None = None
    exchange_ca_file: str | None = None
    exchange_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    exchange_send_seconds: float = Field(default=10.0, ge=0, le=24 * 3600)
    exchange_retry_seconds: float = Field(default=5.0, ge=0, le=3600)
    exchange_max_backoff_seconds: float = Field(default=600.0, ge=0, le=24 * 3600)
    exchange_mapping_file: str | None = None

    @field_validator("exchange_url", "exchange_client_cert", "exchange_client_key",
                     "exchange_ca_file", "exchange_mapping_file")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        """Compose passes unset variables as empty strings."""
        return value or None

    @field_validator("exchange_token")
    @classmethod
    def _empty_token_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("database_read_url")
    @classmethod
    def _read_urls_parse(cls, value: SecretStr | None) -> SecretStr | None:
        """Empty means "no standbys" (compose passes an empty value); each URL must parse."""
        if value is None or not value.get_secret_value().strip():
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        for url in split_urls(value.get_secret_value()):
            try:
                make_url(url)
            except ArgumentError:
                raise ValueError("DATABASE_READ_URL must be SQLAlchemy URLs, comma-separated, "
                                 "e.g. postgresql+psycopg://user:pw@standby:5432/registry"
                                 ) from None
        return value

    @property
    def database_read_urls(self) -> list[str]:
        """The standbys' URLs (REPLICA-1), none when DATABASE_READ_URL is unset."""
        if self.database_read_url is None:
            return []
        return split_urls(self.database_read_url.get_secret_value())

    @field_validator("s3_bucket")
    @classmethod
    def _bucket_name_is_valid(cls, value: str) -> str:
        """S3 bucket naming: 3–63 characters of a–z, 0–9, `.` and `-`, starting and ending
        with a letter or digit (an invalid name would otherwise fail at the first request)."""
        if not _BUCKET_NAME.fullmatch(value) or ".." in value:
            raise ValueError("S3_BUCKET must be 3–63 characters of a-z, 0-9, '.' and '-', "
                             "starting and ending with a letter or digit")
        return value

    @model_validator(mode="after")
    def _prefixes_are_apart(self) -> Settings:
        documents, imports = self.documents_prefix, self.import_files_prefix
        if documents.startswith(imports) or imports.startswith(documents):
            raise ValueError("IMPORT_FILES_PREFIX and DOCUMENTS_PREFIX must not contain one "
                             "another (the storage check removes what no document names)")
        return self

    @field_validator("natural_resource_unit_code_pattern")
    @classmethod
    def _unit_code_pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    @field_validator("trading_center_hmac_secret")
    @classmethod
    def _hmac_secret_is_long_or_unset(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty key means "off" (compose passes an empty value); a short one is refused."""
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("TRADING_CENTER_HMAC_SECRET must have at least 16 characters")
        return value

    @property
    def is_development(self) -> bool:
        return self.registry_env is Environment.DEVELOPMENT


def split_urls(value: str) -> list[str]:
    """`a, b,,c` → [a, b, c]."""
    return [part.strip() for part in value.split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

"""S3 implementation of `Store` with the minio SDK (works with MinIO, SeaweedFS, AWS S3)."""

from __future__ import annotations

import base64
import hashlib
import io
import mmap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.credentials import Credentials
from minio.datatypes import Part
from minio.error import S3Error
from minio.helpers import BaseURL
from minio.signer import sign_v4_s3

from storage.store import ObjectInfo, StorageUnavailable

# Objects up to one part go in one PUT; larger ones in parts of this size, each buffered once.
PART_SIZE = 8 * 1024 * 1024

# Errors that mean "the store is not there or not working", as opposed to "no such key".
_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)


_AUTH_ERRORS = frozenset({"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"})


def _describe(code: str, message: str | None = None) -> str:
    if code in _AUTH_ERRORS:
        return f"{code}: check S3_ACCESS_KEY and S3_SECRET_KEY and the bucket policy"
    return f"{code} {message or ''}".strip()


def _error_code(body: bytes) -> str:
    """The <Code> of an S3 error response, described as the SDK's errors are."""
    try:
        return _describe(ElementTree.fromstring(body).findtext("Code") or "error")
    except ElementTree.ParseError:
        return "error (no S3 error document)"


@contextmanager
def _bytes_of(data: BinaryIO, length: int) -> Iterator[bytes | memoryview]:
    """The first `length` bytes of `data`: the file's pages mapped (no copy) when it is a
    real file, else read into memory (at most PART_SIZE bytes come here)."""
    try:
        descriptor = data.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        descriptor = -1
    if descriptor < 0 or length == 0:
        data.seek(0)
        yield data.read(length)
        return
    with (mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as mapped,
          memoryview(mapped) as whole, whole[:length] as body):
        yield body


@dataclass(frozen=True)
class S3StoreConfig:
    endpoint: str  # http(s)://host:port
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    # Where clients reach the server, if not at `endpoint`: presigned URLs are signed for it.
    public_endpoint: str | None = None

    def __repr__(self) -> str:  # keys never end up in logs or tracebacks
        return f"S3StoreConfig(endpoint={self.endpoint!r}, bucket={self.bucket!r})"


class S3Store:
    """A bucket on an S3 server. Every failure to reach it becomes StorageUnavailable."""

    def __init__(self, config: S3StoreConfig, *, timeout: float = 10.0, retries: int = 1) -> None:
        parts = urlsplit(config.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"S3 endpoint must be http(s)://host[:port], got {config.endpoint!r}")
        self.bucket = config.bucket
        self._endpoint = config.endpoint
        self._region = config.region
        self._credentials = Credentials(config.access_key, config.secret_key)
        self._base_url = BaseURL(config.endpoint, config.region)
        self._http = http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            maxsize=16,
            retries=urllib3.Retry(total=retries, backoff_factor=0.1,
                                  status_forcelist=(500, 502, 503, 504)),
        )
        self._client = Minio(parts.netloc, access_key=config.access_key,
                             secret_key=config.secret_key, secure=parts.scheme == "https",
                             region=config.region, http_client=http)
        # Presigning is local computation (the region is given, so no lookup request is sent).
        self._signer = self._client
        if config.public_endpoint:
            public = urlsplit(config.public_endpoint)
            if public.scheme not in ("http", "https") or not public.netloc:
                raise ValueError("S3 public endpoint must be http(s)://host[:port], got "
                                 f"{config.public_endpoint!r}")
            self._signer = Minio(public.netloc, access_key=config.access_key,
                                 secret_key=config.secret_key, secure=public.scheme == "https",
                                 region=config.region)

    def __repr__(self) -> str:
        return f"S3Store(endpoint={self._endpoint!r}, bucket={self.bucket!r})"

    def ensure_bucket(self) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket)
        except S3Error as exc:
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StorageUnavailable(f"bucket {self.bucket!r}: "
                                         f"{_describe(exc.code, exc.message)}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc

    def ping(self) -> None:
        try:
            exists = self._client.bucket_exists(self.bucket)
        except S3Error as exc:
            raise StorageUnavailable(f"bucket {self.bucket!r}: "
                                     f"{_describe(exc.code, exc.message)}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
        if not exists:
            raise StorageUnavailable(f"bucket {self.bucket!r} does not exist")

    def check_writable(self) -> None:
        key = f"_probe/{uuid.uuid4()}"
        payload = b"registry storage probe"
        try:
            self._client.put_object(self.bucket, key, io.BytesIO(payload), len(payload))
            response = self._client.get_object(self.bucket, key)
            try:
                echoed = response.read()
            finally:
                response.close()
                response.release_conn()
            self._client.remove_object(self.bucket, key)
        except S3Error as exc:
            raise StorageUnavailable(f"bucket {self.bucket!r}: "
                                     f"{_describe(exc.code, exc.message)}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
        if echoed != payload:
            raise StorageUnavailable(f"bucket {self.bucket!r} returned different bytes")

    def put(self, key: str, data: BinaryIO, length: int, *, sha256_b64: str | None = None,
            content_type: str = "application/octet-stream") -> None:
        # SeaweedFS does not verify the signed payload hash; an explicit checksum header makes
        # the server reject corrupted uploads (BadDigest). The SDK passes it through metadata.
        # A whole-object checksum cannot go with a multipart upload: larger objects carry one
        # per part instead (_put_parts).
        if sha256_b64 and length > PART_SIZE:
            self._put_parts(key, data, sha256_b64, content_type)
            return
        if not sha256_b64:
            try:
                self._client.put_object(self.bucket, key, data, length,
                                        content_type=content_type, part_size=PART_SIZE)
            except S3Error as exc:
                raise StorageUnavailable(f"put {key}: {exc.code} {exc.message}") from exc
            except _TRANSPORT_ERRORS as exc:
                raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
            return
        with _bytes_of(data, length) as body:
            self._put_known(key, body, sha256_b64, content_type)

    def _put_known(self, key: str, body: bytes | memoryview, sha256_b64: str,
                   content_type: str) -> None:
        """One signed PUT of bytes whose SHA-256 is known: the signature's payload hash is
        that digest (the SDK would compute it again, a millisecond per megabyte), and the
        checksum header makes the server verify the bytes against it (BadDigest)."""
        url = self._base_url.build(method="PUT", region=self._region,
                                   bucket_name=self.bucket, object_name=key)
        date = datetime.now(UTC).replace(tzinfo=None)
        headers = {"Host": url.netloc, "Content-Type": content_type,
                   "Content-Length": str(len(body)), "x-amz-checksum-sha256": sha256_b64,
                   "x-amz-content-sha256": base64.b64decode(sha256_b64).hex(),
                   "x-amz-date": date.strftime("%Y%m%dT%H%M%SZ")}
        headers = sign_v4_s3(method="PUT", url=url, region=self._region, headers=headers,
                             credentials=self._credentials,
                             content_sha256=headers["x-amz-content-sha256"], date=date)
        try:
            response = self._http.urlopen("PUT", urlunsplit(url), body=body, headers=headers)
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
        if response.status != 200:
            raise StorageUnavailable(f"put {key}: {_error_code(response.data)}")

    def _put_parts(self, key: str, data: BinaryIO, sha256_b64: str, content_type: str) -> None:
        """A multipart upload whose every part carries its SHA-256 (verified by the server), and
        which completes only if the parts add up to the whole object's SHA-256."""
        client = self._client
        whole = hashlib.sha256()
        try:
            upload_id = client._create_multipart_upload(self.bucket, key,
                                                        {"Content-Type": content_type})
        except S3Error as exc:
            raise StorageUnavailable(f"put {key}: {exc.code} {exc.message}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
        try:
            parts: list[Part] = []
            while chunk := data.read(PART_SIZE):
                while len(chunk) < PART_SIZE and (more := data.read(PART_SIZE - len(chunk))):
                    chunk += more
                whole.update(chunk)
                digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                etag = client._upload_part(self.bucket, key, chunk,
                                           {"x-amz-checksum-sha256": digest}, upload_id,
                                           len(parts) + 1)
                parts.append(Part(len(parts) + 1, etag))
            if base64.b64encode(whole.digest()).decode() != sha256_b64:
                raise StorageUnavailable(f"put {key}: the data read differs from its checksum")
            client._complete_multipart_upload(self.bucket, key, upload_id, parts)
        except BaseException as exc:
            try:
                client._abort_multipart_upload(self.bucket, key, upload_id)
            except (S3Error, *_TRANSPORT_ERRORS):
                pass  # the store is gone or forgot it; an unfinished upload holds no object
            if isinstance(exc, S3Error):
                raise StorageUnavailable(f"put {key}: {exc.code} {exc.message}") from exc
            if isinstance(exc, _TRANSPORT_ERRORS):
                raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
            raise

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            found = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return None
            raise StorageUnavailable(f"stat {key}: {exc.code}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
        return ObjectInfo(key=key, size=int(found.size or 0), content_type=found.content_type)

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        try:
            response = self._client.get_object(self.bucket, key)
        except S3Error as exc:
            raise StorageUnavailable(f"get {key}: {exc.code}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc
        try:
            yield from response.stream(chunk_size)
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"reading {key} failed: {exc}") from exc
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        try:
            self._client.remove_object(self.bucket, key)
        except S3Error as exc:
            raise StorageUnavailable(f"delete {key}: {exc.code}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        try:
            for item in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if item.object_name is not None:
                    yield item.object_name
        except S3Error as exc:
            raise StorageUnavailable(f"list {prefix!r}: {exc.code}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for item in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if item.object_name is not None and not item.is_dir:
                    yield ObjectInfo(key=item.object_name, size=int(item.size or 0),
                                     content_type=item.content_type,
                                     last_modified=item.last_modified)
        except S3Error as exc:
            raise StorageUnavailable(f"list {prefix!r}: {exc.code}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc

    def copy(self, source: str, target: str) -> None:
        try:
            self._client.copy_object(self.bucket, target, CopySource(self.bucket, source))
        except S3Error as exc:
            raise StorageUnavailable(f"copy {source} to {target}: {exc.code}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"S3 at {self._endpoint} unreachable: {exc}") from exc

    def presigned_get_url(self, key: str, expires: timedelta,
                          request_date: datetime | None = None) -> str:
        return str(self._signer.presigned_get_object(self.bucket, key, expires=expires,
                                                     request_date=request_date))

    def presigned_put_url(self, key: str, expires: timedelta, sha256_b64: str,
                          request_date: datetime | None = None) -> str:
        # A signed query parameter is honoured like the header: the server refuses a body
        # with another digest (BadDigest), and the client cannot drop it without breaking
        # the signature.
        return str(self._signer.get_presigned_url(
            "PUT", self.bucket, key, expires=expires, request_date=request_date,
            extra_query_params={"x-amz-checksum-sha256": sha256_b64}))

"""Object storage: a small `Store` interface and its S3 (MinIO, SeaweedFS, …) implementation."""

from storage.s3 import S3Store, S3StoreConfig
from storage.store import ObjectInfo, StorageUnavailable, Store

__all__ = ["ObjectInfo", "S3Store", "S3StoreConfig", "StorageUnavailable", "Store"]

"""Where signed checkpoints are kept outside the database, so that whoever rewrites every
row and every tip in it is still found out: a directory (local disk, or a mounted share),
and an S3-compatible bucket (AWS S3, MinIO, Ceph, Cloudflare R2, Google Cloud Storage's
XML API). A bucket with object lock (write once, read many) makes the copies unchangeable
even by the service's own credentials.

Each checkpoint is one object, ``checkpoint-<period>.jws``, written once; reading them back
is bounded (``MAX_KEPT``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..base.errors import ConfigError
from ..base.files import write_whole
from ..base.settings import Settings

#: At most this many checkpoints are read back from one place (hourly ones: 11 years).
MAX_KEPT = 100_000
SUFFIX = ".jws"


class Anchor(Protocol):
    """A place checkpoints are copied to."""

    where: str

    def has(self, name: str) -> bool: ...

    def put(self, name: str, text: str) -> None: ...

    def texts(self) -> list[str]: ...


def name_of(period: int) -> str:
    return f"checkpoint-{period}{SUFFIX}"


@dataclass(frozen=True)
class DirectoryAnchor:
    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

    def has(self, name: str) -> bool:
        return (self.path / name).exists()

    def put(self, name: str, text: str) -> None:
        """Written aside, then renamed into place: a reader never sees half a file."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_whole(self.path / name, (text + "\n").encode())

    def texts(self) -> list[str]:
        if not self.path.is_dir():
            return []
        files = sorted(self.path.glob("*" + SUFFIX))[:MAX_KEPT]
        return [text for text in (f.read_text().strip() for f in files) if text]


class BucketAnchor:
    """An S3-compatible bucket through boto3 (credentials from the usual AWS chain:
    environment, shared files, instance role)."""

    def __init__(self, url: str, endpoint: str | None = None, client: Any = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"a checkpoint bucket is s3://BUCKET[/PREFIX], not {url!r}")
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.where = url
        self._client = client or _s3_client(endpoint)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def has(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def put(self, name: str, text: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self._key(name),
                                Body=(text + "\n").encode(), ContentType="application/jwt")

    def texts(self) -> list[str]:
        keys: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(""))
        for page in pages:
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(SUFFIX)]
            if len(keys) >= MAX_KEPT:
                break
        return [self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                .decode().strip() for key in sorted(keys)[:MAX_KEPT]]


def _s3_client(endpoint: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - the s3 extra is part of every install we test
        raise ConfigError("a checkpoint bucket needs boto3: pip install "
                          "'entitlements[s3]'") from None
    return boto3.client("s3", endpoint_url=endpoint or None, config=Config(
        connect_timeout=5, read_timeout=10, retries={"max_attempts": 3}))


def configured(settings: Settings) -> list[Anchor]:
    """The places the settings name (``checkpoint_dir``, ``checkpoint_bucket``)."""
    anchors: list[Anchor] = []
    if settings.checkpoint_dir:
        anchors.append(DirectoryAnchor(Path(settings.checkpoint_dir)))
    if settings.checkpoint_bucket:
        anchors.append(BucketAnchor(settings.checkpoint_bucket,
                                    settings.checkpoint_bucket_endpoint or None))
    return anchors

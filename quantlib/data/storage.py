"""Object storage (``s3://bucket/prefix``) for the lake, gold and backups, through fsspec and s3fs.

A location is either a local path (a :class:`pathlib.Path`, exactly as before) or an object
storage URL, held as an :class:`ObjectPath`: the few pathlib operations the lake, the ingest,
the warehouse and the backups use (``/``, ``name``, ``stem``, ``parent``, ``exists``,
``stat().st_size``, ``glob``, ``open``, ``read_bytes`` ...), on an fsspec filesystem. Code that
handles both asks :func:`as_location`.

Settings, all from the environment (never from a file, never written anywhere):

``QUANT_S3_ENDPOINT_URL``
    The S3 API endpoint of an S3-compatible server (MinIO, Ceph, a local test server); else
    ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, else AWS itself.
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` (optional)
    The credentials. Only these are used: without them a command stops with a line naming the
    variables (no configuration file, no instance metadata lookup).
``AWS_DEFAULT_REGION`` / ``AWS_REGION``
    The region, read by botocore.
``QUANT_GOLD_CACHE``
    Where :func:`local_copy` keeps downloaded gold files (default ``.cache/gold`` under the
    project root).

Objects are replaced whole (an upload becomes visible when it completes), so a writer builds a
file locally and uploads it (:func:`quantlib.data.lake.atomic_path`); a reader never sees half a
file. Listings are not cached: another machine's upload is seen by the next call.
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import tempfile
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

from quantlib.errors import QuantError

__all__ = ["ENDPOINT_ENV", "GOLD_CACHE_ENV", "ObjectPath", "StorageError", "as_location", "filesystem",
           "is_remote", "local_copy", "storage_options"]

ENDPOINT_ENV = "QUANT_S3_ENDPOINT_URL"
GOLD_CACHE_ENV = "QUANT_GOLD_CACHE"
_ENDPOINT_FALLBACKS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
_S3_PROTOCOLS = ("s3", "s3a")
_CHUNK = 1 << 20


class StorageError(QuantError, OSError):
    """Object storage cannot be used as asked (unsupported scheme, missing package or credentials)."""


def is_remote(location) -> bool:
    """True when ``location`` is an object storage URL (``s3://...``) or an :class:`ObjectPath`."""
    if isinstance(location, ObjectPath):
        return True
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def as_location(location) -> Path | ObjectPath:
    """``location`` as a :class:`ObjectPath` when it is an object storage URL, else as a ``Path``."""
    if isinstance(location, ObjectPath):
        return location
    if is_remote(location):
        return ObjectPath(location)
    if isinstance(location, str) and location.startswith("file://"):
        return Path(location[len("file://"):])
    return Path(location)


def storage_options(protocol: str = "s3", environ: dict | None = None) -> dict:
    """The fsspec options for ``protocol`` from the environment: endpoint and credentials.

    Raises
    ------
    StorageError
        The protocol is not supported, or the credentials are not set (the message names the
        variables, never a value).
    """
    env = os.environ if environ is None else environ
    if protocol not in _S3_PROTOCOLS:
        raise StorageError(f"{protocol}://: only s3:// object storage is supported")
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise StorageError("s3://: no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
    options = {"key": key, "secret": secret, "use_listings_cache": False}
    if env.get("AWS_SESSION_TOKEN"):
        options["token"] = env["AWS_SESSION_TOKEN"]
    endpoint = env.get(ENDPOINT_ENV) or next((env[name] for name in _ENDPOINT_FALLBACKS if env.get(name)), None)
    if endpoint:
        options["endpoint_url"] = endpoint
    return options


def filesystem(protocol: str = "s3", environ: dict | None = None):
    """The fsspec filesystem for ``protocol``, configured from the environment (:func:`storage_options`).

    fsspec keeps one instance per distinct set of options, so this is cheap to call again.
    """
    options = storage_options(protocol, environ)
    return _filesystem(tuple(sorted(options.items())))


@functools.lru_cache(maxsize=8)
def _filesystem(options: tuple):
    # One instance per set of options (endpoint, credentials): building fsspec's cache key on
    # every path operation costs more than the operation against a nearby server.
    try:
        import fsspec
        import s3fs  # noqa: F401  (registers the s3 protocol; its absence deserves its own message)
    except ImportError:
        raise StorageError("s3://: object storage needs s3fs; install quant-workspace[s3]") from None
    return fsspec.filesystem("s3", **dict(options))


class ObjectPath:
    """A file or prefix on object storage, ``s3://bucket/key``, with the pathlib operations the lake uses.

    Prefixes stand for folders: :meth:`mkdir` does nothing, :meth:`is_dir` is true when some
    object lies under the prefix. Paths are normalised (no ``..``, no trailing ``/``).
    """

    __slots__ = ("path", "protocol")

    def __init__(self, url: str) -> None:
        protocol, sep, rest = str(url).partition("://")
        bucket, _, key = rest.strip("/").partition("/")
        key = posixpath.normpath("/" + key).strip("/")  # '..' stops at the bucket
        path = f"{bucket}/{key}".rstrip("/")
        if not sep or bucket in ("", ".", ".."):
            raise StorageError(f"{url}: not an object storage URL (expected s3://bucket/prefix)")
        if protocol.lower() not in _S3_PROTOCOLS:
            raise StorageError(f"{url}: only s3:// object storage is supported")
        self.protocol = "s3"
        self.path = path

    # -- naming
    def __str__(self) -> str:
        return f"{self.protocol}://{self.path}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ObjectPath) and (self.protocol, self.path) == (other.protocol, other.path)

    def __hash__(self) -> int:
        return hash((self.protocol, self.path))

    def __lt__(self, other: ObjectPath) -> bool:
        if not isinstance(other, ObjectPath):
            return NotImplemented
        return (self.protocol, self.path) < (other.protocol, other.path)

    def __truediv__(self, other) -> ObjectPath:
        return ObjectPath(f"{self}/{other}")

    def joinpath(self, *parts) -> ObjectPath:
        return ObjectPath("/".join([str(self), *map(str, parts)]))

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    @property
    def parent(self) -> ObjectPath:
        parent = posixpath.dirname(self.path)
        return ObjectPath(f"{self.protocol}://{parent}") if parent else self

    @property
    def parents(self) -> list[ObjectPath]:
        found, current = [], self
        while current.parent != current:
            current = current.parent
            found.append(current)
        return found

    def relative_to(self, other: ObjectPath) -> PurePosixPath:
        if not isinstance(other, ObjectPath) or other.protocol != self.protocol:
            raise ValueError(f"{self} is not under {other}")
        return PurePosixPath(self.path).relative_to(other.path)

    def as_posix(self) -> str:
        return str(self)

    def resolve(self) -> ObjectPath:
        return self

    @property
    def fs(self):
        return filesystem(self.protocol)

    # -- queries
    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def is_file(self) -> bool:
        return self.fs.isfile(self.path)

    def is_dir(self) -> bool:
        return self.fs.isdir(self.path)

    def stat(self) -> SimpleNamespace:
        """``st_size`` and the object's ``etag`` (a prefix has size 0 and no ETag)."""
        info = self.fs.info(self.path)
        return SimpleNamespace(st_size=int(info.get("size") or 0), etag=str(info.get("ETag", "")).strip('"'))

    def iterdir(self) -> list[ObjectPath]:
        if not self.is_dir():
            return []
        return [ObjectPath(f"{self.protocol}://{p}") for p in sorted(self.fs.ls(self.path, detail=False))
                if p.strip("/") != self.path]

    def glob(self, pattern: str) -> list[ObjectPath]:
        return [ObjectPath(f"{self.protocol}://{p}") for p in sorted(self.fs.glob(f"{self.path}/{pattern}"))]

    def files(self) -> list[ObjectPath]:
        """Every object under this prefix, sorted (the recursive listing a folder walk gives)."""
        if not self.is_dir():
            return []
        return [ObjectPath(f"{self.protocol}://{p}") for p in sorted(self.fs.find(self.path))]

    def sizes(self) -> dict[ObjectPath, int]:
        """The size of every object under this prefix, from one listing."""
        if not self.is_dir():
            return {}
        found = self.fs.find(self.path, detail=True)
        return {ObjectPath(f"{self.protocol}://{name}"): int(info.get("size") or 0) for name, info in found.items()}

    # -- reading and writing
    def open(self, mode: str = "rb", **kwargs):
        return self.fs.open(self.path, mode, **kwargs)

    def read_bytes(self) -> bytes:
        return self.fs.cat_file(self.path)

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        self.fs.pipe_file(self.path, data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def upload(self, local: str | os.PathLike) -> None:
        """Upload the local file ``local`` as this object (visible only once complete)."""
        self.fs.put_file(os.fspath(local), self.path)

    def download(self, local: str | os.PathLike) -> None:
        """Download this object to the local file ``local``."""
        self.fs.get_file(self.path, os.fspath(local))

    def mkdir(self, parents: bool = True, exist_ok: bool = True) -> None:
        """Nothing to do: object storage has no folders, a prefix exists once an object is under it."""

    def unlink(self, missing_ok: bool = False) -> None:
        if not missing_ok and not self.is_file():  # S3 deletes a missing key without complaint
            raise FileNotFoundError(f"{self}: no such object")
        self.fs.rm_file(self.path)

    def rmtree(self) -> None:
        """Remove every object under this prefix."""
        if self.is_dir():
            self.fs.rm(self.path, recursive=True)


def _gold_cache(environ: dict | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(GOLD_CACHE_ENV):
        return Path(env[GOLD_CACHE_ENV])
    from quantlib.config import project_root

    return project_root() / ".cache" / "gold"


def local_copy(remote: ObjectPath, attempts: int = 3) -> Path:
    """A local, read-only copy of the object ``remote``, cached by its ETag.

    A DuckDB database cannot be opened on object storage in place, so readers open this copy.
    It is downloaded once per version of the object: the cache file is named by the object's
    ETag, so a rebuilt gold (new ETag) is fetched again and an unchanged one is not. The download
    goes to a temporary name and is renamed when complete; if the object was replaced while it
    was downloading (its ETag changed), it is fetched again. Of older versions of the same object
    only the latest is kept (a reader may have just been handed its path); the rest are removed
    (an open connection keeps its file until it is closed).

    Raises
    ------
    FileNotFoundError
        There is no such object.
    StorageError
        The object kept changing during ``attempts`` downloads.
    """
    folder = _gold_cache() / hashlib.sha256(str(remote).encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        before = remote.stat()
        etag = "".join(c for c in before.etag if c.isalnum() or c == "-") or "noetag"
        cached = folder / f"{etag}{remote.suffix}"
        if not (cached.is_file() and cached.stat().st_size == before.st_size):
            fd, name = tempfile.mkstemp(prefix=f".{etag}.", suffix=".tmp", dir=folder)
            os.close(fd)
            try:
                remote.download(name)
                if remote.stat().etag != before.etag or os.path.getsize(name) != before.st_size:
                    continue  # replaced while downloading: fetch the new version
                os.replace(name, cached)
            finally:
                if os.path.exists(name):
                    os.unlink(name)
        # Keep this version and the one before (a reader on this machine may have been handed
        # that path a moment ago and not opened it yet); older ones go.
        versions = sorted((f for f in folder.iterdir() if not f.name.startswith(".") and f != cached),
                          key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in versions[1:]:
            old.unlink(missing_ok=True)
        return cached
    raise StorageError(f"{remote}: the object changed during each of {attempts} downloads; try again")

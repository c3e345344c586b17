"""Pickled caches signed with HMAC, so a cache file someone else wrote is never unpickled.

Apps cache fitted engines (objects no data format can hold) with :mod:`pickle`, and
unpickling runs code. A cache folder may be shared or writable by others, so every file is
signed with HMAC-SHA256 (the reason :mod:`pickle` is imported here at all, reviewed for
bandit's B403/B301) under a per-installation key (``.cache/signing.key`` in the project,
created with mode 0600 on first use) and checked *before* :func:`pickle.loads` sees a byte.
An unsigned, tampered or foreign file raises :class:`CacheIntegrityError`; callers refit.

The apps that cache a fit (the forecast explorer, the churn explorer, the equipment monitor)
share the rest too: :func:`cache_key` names a file by the gold warehouse's data version
(:func:`gold_version`, which a rebuild changes), the app's parameters and the source of the
engines it ran (:func:`source_digest`); :func:`cache_folder` is where the files live; and
:func:`load_or_compute` loads the file, or, when it is missing, unsigned, tampered with or
unreadable, computes the value again and writes it back.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import os
import pickle  # nosec B403
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from quantlib.errors import QuantError

__all__ = ["CacheIntegrityError", "cache_folder", "cache_key", "gold_version", "installation_key", "key_path",
           "load_or_compute", "prune", "read_signed", "source_digest", "write_signed"]

T = TypeVar("T")

log = logging.getLogger(__name__)

_MAGIC = b"QUANT-HMAC-SHA256\n"
_DIGEST_SIZE = hashlib.sha256().digest_size


class CacheIntegrityError(QuantError, ValueError):
    """A cache file is unsigned, tampered with or signed by another key; it was not loaded."""


def key_path() -> Path:
    """Where the installation's signing key lives: ``<project root>/.cache/signing.key``."""
    from quantlib.config import project_root

    return project_root() / ".cache" / "signing.key"


def installation_key(path: Path | None = None) -> bytes:
    """The signing key, created (32 random bytes, mode 0600) when missing.

    Raises
    ------
    CacheIntegrityError
        The key file is readable or writable by other users, or empty: a key others can read
        signs nothing.
    """
    path = key_path() if path is None else Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
            try:
                os.link(tmp, path)  # atomic and never replaces a key another process just made
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode
    if stat.S_IMODE(mode) & 0o077:
        raise CacheIntegrityError(f"{path}: signing key is accessible by other users (mode "
                                  f"{stat.S_IMODE(mode):o}); delete it to make a new one")
    key = path.read_bytes()
    if len(key) < 16:
        raise CacheIntegrityError(f"{path}: signing key is too short; delete it to make a new one")
    return key


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def write_signed(path: str | Path, obj: Any, key: bytes | None = None) -> Path:
    """Pickle ``obj`` to ``path`` with its HMAC, atomically (readers see the old or the new file)."""
    path = Path(path)
    key = installation_key() if key is None else key
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(_MAGIC + _mac(key, payload) + payload)
    tmp.replace(path)
    return path


def read_signed(path: str | Path, key: bytes | None = None) -> Any:
    """Load what :func:`write_signed` wrote, checking the signature before unpickling.

    Raises
    ------
    CacheIntegrityError
        No signature, or one that does not match the content under this installation's key.
    OSError
        The file cannot be read.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _DIGEST_SIZE:
        raise CacheIntegrityError(f"{path}: not a signed cache file")
    mac = data[len(_MAGIC):len(_MAGIC) + _DIGEST_SIZE]
    payload = data[len(_MAGIC) + _DIGEST_SIZE:]
    key = installation_key() if key is None else key
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise CacheIntegrityError(f"{path}: signature does not match (tampered with, or from another installation)")
    # Authenticated above with this installation's HMAC key.
    return pickle.loads(payload)  # nosec B301


# ----------------------------------------------------------------------------- app caches

def gold_version(gold: str | Path) -> str:
    """The data version of a gold file: its inode, size and modification time (as the read API's).

    A warehouse build rewrites the file, so every rebuild gives a new version, even of the same
    data. Raises :class:`OSError` (``FileNotFoundError``) when there is no such file.
    """
    st = Path(gold).stat()
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"


def source_digest(*names: str) -> str:
    """SHA-256 of the source of modules (or of every ``.py`` file of packages) named by dotted name.

    Part of a cache key: a changed engine means a refit, not an old model under new code.
    """
    digest = hashlib.sha256()
    for name in names:
        module = importlib.import_module(name)
        path = Path(module.__file__)
        files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
        for file in files:
            digest.update(str(file.relative_to(path.parent)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def cache_key(gold: str | Path, settings: Mapping[str, Any], modules: tuple[str, ...] = ()) -> str:
    """A cache file's key (24 hex digits): the gold file (resolved path and :func:`gold_version`),
    ``settings`` (JSON-able: the app's parameters and a format version) and the source of
    ``modules`` (:func:`source_digest`). A rebuilt warehouse, other parameters or a changed engine
    give another key, so a stale file is never read: it is simply not asked for.
    """
    path = Path(gold).resolve()
    key = {"gold": str(path), "version": gold_version(path), "settings": dict(settings),
           "source": source_digest(*modules)}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_folder(variable: str, name: str, environ: Mapping[str, str] | None = None) -> Path:
    """``$variable`` when set (``environ`` first, then ``os.environ``), else ``.cache/<name>`` under the
    project root: where an app keeps its signed cache files."""
    from quantlib.config import project_root

    env = {**os.environ, **(environ or {})}
    return Path(env.get(variable) or project_root() / ".cache" / name)


def load_or_compute(path: str | Path | None, compute: Callable[[], T], *, what: str,
                    logger: logging.Logger | None = None, keep: int = 8) -> tuple[T, bool]:
    """``(value, True)`` from the signed file ``path``, else ``(compute(), False)`` written there.

    A missing file is computed; an unsigned, tampered or foreign one (:class:`CacheIntegrityError`)
    or one that cannot be unpickled is logged as a warning on ``logger``, computed again and
    overwritten (atomically: a kernel reading at the same time sees the old file or the new).
    A file that cannot be written is logged and costs the next kernel a computation, nothing
    more. ``path=None`` means no cache: always computed, never written. After a write, only the
    ``keep`` newest files of the folder with ``path``'s suffix stay (:func:`prune`): caches of
    earlier builds do not pile up.
    """
    logger = logger or log
    if path is not None:
        path = Path(path)
        if path.exists():
            try:
                return read_signed(path), True
            except CacheIntegrityError as error:
                logger.warning("ignoring the %s cache: %s", what, error)
            except Exception:  # a damaged file, or classes that changed shape: compute and overwrite
                logger.warning("ignoring the unreadable %s cache %s", what, path, exc_info=True)
    value = compute()
    if path is not None:
        try:
            write_signed(path, value)
        except (OSError, CacheIntegrityError):
            logger.warning("could not write the %s cache %s", what, path, exc_info=True)
        else:
            prune(path.parent, path.suffix, keep, spare=path)
    return value, False


def prune(folder: str | Path, suffix: str, keep: int, spare: Path | None = None) -> list[Path]:
    """Remove all but the ``keep`` newest files ending in ``suffix`` from ``folder`` (never ``spare``).

    Returns the files removed; one that cannot be removed is skipped.
    """
    files = sorted((f for f in Path(folder).glob(f"*{suffix}") if f.is_file() and f != spare),
                   key=lambda f: f.stat().st_mtime, reverse=True)
    removed = []
    for old in files[max(keep - (spare is not None), 0):]:
        try:
            old.unlink()
            removed.append(old)
        except OSError:
            pass
    return removed

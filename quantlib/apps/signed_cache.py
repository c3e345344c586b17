"""Pickled caches signed with HMAC, so a cache file someone else wrote is never unpickled.

Apps cache fitted engines (objects no data format can hold) with :mod:`pickle`, and
unpickling runs code. A cache folder may be shared or writable by others, so every file is
signed with HMAC-SHA256 (the reason :mod:`pickle` is imported here at all, reviewed for
bandit's B403/B301) under a per-installation key (``.cache/signing.key`` in the project,
created with mode 0600 on first use) and checked *before* :func:`pickle.loads` sees a byte.
An unsigned, tampered or foreign file raises :class:`CacheIntegrityError`; callers refit.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle  # nosec B403
import secrets
import stat
from pathlib import Path
from typing import Any

from quantlib.errors import QuantError

__all__ = ["CacheIntegrityError", "installation_key", "key_path", "read_signed", "write_signed"]

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

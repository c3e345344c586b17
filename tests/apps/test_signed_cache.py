"""Signed caches: nothing is unpickled unless this installation signed it."""

from __future__ import annotations

import os
import pickle

import pytest

from quantlib.apps.signed_cache import CacheIntegrityError, installation_key, read_signed, write_signed


class Exploit:
    """A pickle that would create ``marker`` when loaded (what an attacker puts in a cache)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_round_trip(tmp_path):
    key = installation_key(tmp_path / "k" / "signing.key")
    assert oct((tmp_path / "k" / "signing.key").stat().st_mode & 0o777) == "0o600"
    assert installation_key(tmp_path / "k" / "signing.key") == key  # made once, then reused
    write_signed(tmp_path / "c.pkl", {"a": [1, 2]}, key=key)
    assert read_signed(tmp_path / "c.pkl", key=key) == {"a": [1, 2]}


def test_default_key_round_trip(tmp_path):
    write_signed(tmp_path / "c.pkl", [3])
    assert read_signed(tmp_path / "c.pkl") == [3]


def test_unsigned_pickle_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "c.pkl").write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(CacheIntegrityError, match="not a signed cache file"):
        read_signed(tmp_path / "c.pkl", key=b"k" * 32)
    assert not marker.exists()


def test_tampered_or_foreign_file_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    key = b"k" * 32
    path = write_signed(tmp_path / "c.pkl", {"ok": 1}, key=key)
    signed = path.read_bytes()
    # Keep the signature, swap the payload for the exploit.
    header = signed[: len(signed) - len(pickle.dumps({"ok": 1}, protocol=pickle.HIGHEST_PROTOCOL))]
    path.write_bytes(header + pickle.dumps(Exploit(marker)))
    with pytest.raises(CacheIntegrityError, match="signature does not match"):
        read_signed(path, key=key)
    # Signed, but by another installation's key.
    write_signed(path, Exploit(marker), key=b"x" * 32)
    with pytest.raises(CacheIntegrityError, match="signature does not match"):
        read_signed(path, key=key)
    assert not marker.exists()


def test_a_key_others_can_read_is_refused(tmp_path):
    path = tmp_path / "signing.key"
    installation_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(CacheIntegrityError, match="accessible by other users"):
        installation_key(path)

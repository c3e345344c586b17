"""Signed caches: nothing is unpickled unless this installation signed it; the apps' shared key, folder
and load-or-compute."""

from __future__ import annotations

import os
import pickle

import pytest

from quantlib.apps.signed_cache import (
    CacheIntegrityError,
    cache_folder,
    cache_key,
    gold_version,
    installation_key,
    load_or_compute,
    read_signed,
    source_digest,
    write_signed,
)


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


def test_the_key_follows_the_data_the_settings_and_the_source(tmp_path):
    gold = tmp_path / "gold.duckdb"
    gold.write_bytes(b"build 1")
    key = cache_key(gold, {"as_of": None, "scorer": "learned"}, ("quantlib.apps.signed_cache",))
    assert key == cache_key(gold, {"scorer": "learned", "as_of": None}, ("quantlib.apps.signed_cache",))
    assert len(key) == 24
    assert key != cache_key(gold, {"as_of": "2024-06-30", "scorer": "learned"}, ("quantlib.apps.signed_cache",))
    assert key != cache_key(gold, {"as_of": None, "scorer": "rule"}, ("quantlib.apps.signed_cache",))
    assert key != cache_key(gold, {"as_of": None, "scorer": "learned"}, ("quantlib.apps.base",))
    # A rebuild: the same path, new content (and a new modification time).
    version = gold_version(gold)
    os.utime(gold, ns=(gold.stat().st_atime_ns, gold.stat().st_mtime_ns - 10**9))
    assert gold_version(gold) != version
    old = cache_key(gold, {"as_of": None, "scorer": "learned"}, ("quantlib.apps.signed_cache",))
    gold.write_bytes(b"build 2")
    assert cache_key(gold, {"as_of": None, "scorer": "learned"}, ("quantlib.apps.signed_cache",)) != old
    # Another warehouse with the same bytes is another key.
    other = tmp_path / "other.duckdb"
    other.write_bytes(gold.read_bytes())
    assert cache_key(other, {}, ()) != cache_key(gold, {}, ())
    with pytest.raises(FileNotFoundError):
        gold_version(tmp_path / "missing.duckdb")


def test_a_package_digest_covers_its_modules():
    assert source_digest("quantlib.apps") != source_digest("quantlib.apps.signed_cache")
    assert source_digest("quantlib.apps.signed_cache") == source_digest("quantlib.apps.signed_cache")
    assert source_digest("quantlib.apps.base", "quantlib.apps.signed_cache") != source_digest("quantlib.apps.base")


def test_the_folder_is_the_variable_else_the_projects(monkeypatch, tmp_path):
    from quantlib.config import project_root

    monkeypatch.delenv("QUANT_TEST_CACHE", raising=False)
    assert cache_folder("QUANT_TEST_CACHE", "test_app") == project_root() / ".cache" / "test_app"
    monkeypatch.setenv("QUANT_TEST_CACHE", str(tmp_path / "env"))
    assert cache_folder("QUANT_TEST_CACHE", "test_app", {"QUANT_LAKE": "x"}) == tmp_path / "env"
    assert cache_folder("QUANT_TEST_CACHE", "test_app", {"QUANT_TEST_CACHE": str(tmp_path / "given")}) == \
        tmp_path / "given"


def test_load_or_compute_computes_once_and_refuses_what_it_did_not_sign(tmp_path, caplog):
    calls = []

    def compute():
        calls.append(1)
        return {"fitted": len(calls)}

    path = tmp_path / "cache" / "app-key.pkl"
    assert load_or_compute(path, compute, what="test") == ({"fitted": 1}, False)
    assert load_or_compute(path, compute, what="test") == ({"fitted": 1}, True)
    assert load_or_compute(None, compute, what="test") == ({"fitted": 2}, False)  # no cache: always computed
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps(Exploit(marker)))
    with caplog.at_level("WARNING"):
        assert load_or_compute(path, compute, what="test") == ({"fitted": 3}, False)
    assert not marker.exists() and "ignoring the test cache" in caplog.text and "not a signed cache file" in caplog.text
    assert read_signed(path) == {"fitted": 3}  # overwritten with a signed file
    # Signed by this installation but not loadable (damaged, or a class that is gone): computed again.
    from quantlib.apps import signed_cache

    payload = b"not a pickle"
    path.write_bytes(signed_cache._MAGIC + signed_cache._mac(installation_key(), payload) + payload)
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert load_or_compute(path, compute, what="test") == ({"fitted": 4}, False)
    assert "ignoring the unreadable test cache" in caplog.text and read_signed(path) == {"fitted": 4}
    # A folder that cannot be written costs a computation, nothing more.
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert load_or_compute(blocked / "app-key.pkl", compute, what="test") == ({"fitted": 5}, False)


def test_old_cache_files_are_pruned_after_a_write(tmp_path):
    from quantlib.apps.signed_cache import load_or_compute

    for i in range(5):
        old = tmp_path / f"old{i}.pkl"
        old.write_bytes(b"x")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "notes.txt").write_text("not a cache file")
    value, cached = load_or_compute(tmp_path / "new.pkl", lambda: 42, what="test", keep=3)
    assert (value, cached) == (42, False)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["new.pkl", "notes.txt", "old3.pkl", "old4.pkl"]  # the newest two old ones, and the new
    assert load_or_compute(tmp_path / "new.pkl", lambda: 0, what="test", keep=3) == (42, True)

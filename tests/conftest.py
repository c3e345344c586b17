"""Shared fixtures: the two sample companies, generated once per test session; the operational store
on SQLite and on a real PostgreSQL server."""

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "parameters" / "companies"


def pytest_collection_modifyitems(config, items):
    """Files that hold a ``slow`` test run first (in their usual order, then the rest in theirs):
    ``make test``'s workers (pytest-xdist, a whole file to a worker) then run the long files beside
    the many short ones instead of finishing on one alone."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(autouse=True)
def _own_ops_store(tmp_path_factory, monkeypatch):
    """Every test gets an operational store path of its own (made only if the test writes), so no
    test reads or writes the checkout's ``reports/.ops.sqlite`` or a ``$QUANT_OPS_DSN`` database.
    Tests that need a particular store set these variables themselves."""
    monkeypatch.setenv("QUANT_OPS_DB", str(tmp_path_factory.mktemp("ops") / "ops.sqlite"))
    monkeypatch.delenv("QUANT_OPS_DSN", raising=False)
    # Comments too: no test reads or writes the checkout's reports/.annotations.sqlite.
    monkeypatch.setenv("QUANT_ANNOTATIONS_DB", str(tmp_path_factory.mktemp("notes") / "annotations.sqlite"))
    monkeypatch.setenv("QUANT_DISPATCH_CACHE", str(tmp_path_factory.mktemp("dispatch_cache")))


@pytest.fixture(scope="session", autouse=True)
def _session_app_caches(tmp_path_factory):
    """The apps' model caches of the whole session live in a temporary folder, not the checkout's
    ``.cache/``; set once, so a test module may point them at a folder of its own for its tests."""
    with pytest.MonkeyPatch.context() as patch:
        for variable, name in (("QUANT_CHURN_CACHE", "churn_cache"), ("QUANT_EQUIPMENT_CACHE", "equipment_cache"),
                               ("QUANT_FORECAST_CACHE", "forecast_cache")):
            patch.setenv(variable, str(tmp_path_factory.mktemp(name)))
        yield


@pytest.fixture(scope="session")
def mixed_company():
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    return generate_company(load_profile(PROFILES / "mixed_trades.yaml"))


@pytest.fixture(scope="session")
def seasonal_company():
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    return generate_company(load_profile(PROFILES / "seasonal_outdoor.yaml"))


def build_lake(company, root):
    """Write a generated company under ``root``, ingest it and build gold; return the lake."""
    from quantlib.data.generate import write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.warehouse import build_warehouse

    write_company(company, root / "raw")
    lake = Lake(root / "lake")
    report = ingest(root / "raw", lake)
    assert report.ok and report.rows_rejected == 0
    targets = {k: v * company.scale if k == "monthly_revenue" else v for k, v in company.profile.targets.items()}
    build_warehouse(lake, targets=targets, company=company.profile.name)
    return lake


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory):
    """A small mixed-trades company, generated, ingested and built into gold once per session.

    Returns the lake (``quantlib.data.lake.Lake``); ``lake.gold`` is the DuckDB file.
    """
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    company = generate_company(load_profile(PROFILES / "mixed_trades.yaml"), scale=0.4)
    return build_lake(company, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def seasonal_lake(seasonal_company, tmp_path_factory):
    """The landscaping / roofing company built into gold once per session (roofing storms need weather)."""
    return build_lake(seasonal_company, tmp_path_factory.mktemp("seasonal"))


# -- the operational store on both backends ---------------------------------------------------

_DATABASES = itertools.count()


class LocalPostgres:
    """A throwaway PostgreSQL server from Debian's ``postgresql`` package: ``initdb`` into a temporary
    folder and ``pg_ctl start`` listening on a Unix socket in that folder only (no TCP port), run as
    the ``postgres`` user when the tests run as root (the server refuses to run as root)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not found:
            pytest.fail("Debian's postgresql package is not installed (`make system-deps` installs it as root)")
        self.bin = found[-1].parent
        self.data = self.folder / "data"

    def _run(self, *command):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True, timeout=120)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.folder, user="postgres", group="postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-k {self.folder} -c listen_addresses='' -F"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "server.log", "-w",
                  "start")
        return self

    def stop(self):
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def get_uri(self, database="postgres"):
        return f"postgresql://postgres:@/{database}?host={self.folder}"


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server (Debian's package) for the test session, stopped and removed at its end.

    Started only when a test asks for PostgreSQL; each such test gets its own database
    (:func:`postgres_dsn`). Its folder is not under pytest's temporary root, which the ``postgres``
    user cannot enter (mode 0700, reset by every pytest session).
    """
    folder = tempfile.mkdtemp(prefix="quant-pg-")
    try:
        server = LocalPostgres(folder).start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server):
    """The URI of a new, empty database on the session's PostgreSQL server."""
    import psycopg

    name = f"ops_{next(_DATABASES)}"
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.get_uri(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request, tmp_path):
    """Opens the operational store at one fresh place, on each backend: ``new_store(**kw)``.

    Every call opens (and migrates) the same SQLite file or PostgreSQL database again.
    """
    from quantlib.data.opstore import OpsStore, PostgresOpsStore

    if request.param == "sqlite":
        path = tmp_path / "ops.sqlite"
        return lambda **kw: OpsStore(path, **kw)
    dsn = request.getfixturevalue("postgres_dsn")
    return lambda **kw: PostgresOpsStore(dsn, **kw)


@pytest.fixture
def ops_store(new_store):
    """A fresh operational store, once on SQLite and once on PostgreSQL."""
    return new_store()


# -- object storage: a local S3-compatible server -----------------------------------------------

_BUCKETS = itertools.count()


@pytest.fixture(scope="session")
def s3_server():
    """One S3-compatible server (moto's server mode, a real HTTP server) on 127.0.0.1 and a free port
    for the test session, stopped at its end; its endpoint URL. Started only when a test asks for it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in the test output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch, tmp_path_factory):
    """A new, empty bucket on the session's S3 server: its URL ``s3://quant-test-N``.

    The environment points Quant at the server (``QUANT_S3_ENDPOINT_URL``) with fake credentials,
    as a deployment would set them; downloaded gold files go to a temporary cache."""
    monkeypatch.setenv("QUANT_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "quant-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "quant-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUANT_GOLD_CACHE", str(tmp_path_factory.mktemp("gold_cache")))
    from quantlib.data.storage import filesystem

    bucket = f"quant-test-{next(_BUCKETS)}"
    filesystem().mkdir(bucket)
    return f"s3://{bucket}"

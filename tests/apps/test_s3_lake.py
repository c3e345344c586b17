"""The apps on a lake on object storage, without a browser: ``quant apps`` fetches gold in its own
process and hands the kernels (which get no credentials) a local lake folder; a kernel's own
path resolution then opens that copy, and a new build reaches kernels started after it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from quantlib.cli.apps import kernel_environment, kernel_lake
from quantlib.data.gold import connect_gold
from quantlib.data.lake import Lake
from quantlib.errors import WarehouseNotFoundError

# What an app kernel does first: resolve its parameters from the environment, open gold.
KERNEL = """
import json
from quantlib.apps.base import gold_from_parameters
from quantlib.data.gold import connect_gold
params, gold = gold_from_parameters("mixed_trades", None, None)
with connect_gold(gold) as con:
    count = con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0]
print(json.dumps({"gold": str(gold), "tables": count}))
"""


def test_kernels_get_a_local_copy_of_an_s3_lakes_gold_and_no_credentials(demo_lake, s3_bucket, tmp_path):
    lake = Lake(f"{s3_bucket}/acme/lake")
    lake.gold.upload(demo_lake.gold)
    env = kernel_environment(dict(os.environ), company="mixed_trades", lake=str(lake.root))
    assert not {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    local = env["QUANT_LAKE"]
    assert "://" not in local and os.path.isdir(local)

    # A process with exactly the kernel's environment (no credentials) finds and reads gold.
    done = subprocess.run([sys.executable, "-c", KERNEL], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["gold"] == os.path.join(local, "gold.duckdb")
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        assert seen["tables"] == con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0]
    gold = Path(seen["gold"])
    assert gold.read_bytes() == demo_lake.gold.read_bytes()

    # A new build on object storage: the next check (quant apps repeats it) replaces the file
    # the kernels open, as a local rebuild would; a kernel holding the old one keeps reading it.
    held = connect_gold(gold)
    rebuilt = tmp_path / "gold.duckdb"
    shutil.copy(demo_lake.gold, rebuilt)
    with duckdb.connect(str(rebuilt)) as con:
        con.execute("CREATE TABLE rebuilt_marker AS SELECT 1 AS x")
    lake.gold.upload(rebuilt)
    before = os.stat(gold).st_ino
    assert str(kernel_lake(str(lake.root))) == local
    assert os.stat(gold).st_ino != before
    tables = "SELECT table_name FROM information_schema.tables WHERE table_name = 'rebuilt_marker'"
    assert held.execute(tables).fetchall() == []  # the old build, whole
    held.close()
    with connect_gold(gold) as con:  # (DuckDB shares one open database per path within a process)
        assert con.execute("SELECT x FROM rebuilt_marker").fetchone() == (1,)

    # A local lake is handed over as it is; an s3:// lake without gold says how to build it.
    assert kernel_lake(demo_lake.root) == demo_lake.root.resolve()
    with pytest.raises(WarehouseNotFoundError, match="quant warehouse build"):
        kernel_lake(f"{s3_bucket}/empty/lake")

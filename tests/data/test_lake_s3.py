"""The lake on object storage, end to end against the session's local S3 server: a generated company
ingested to s3:// (bronze, silver, rejects, manifest there), gold built from silver read in place and
uploaded, KPIs read from it; everything equal to the same company in a local lake."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.data.gold import gold_file, open_gold
from quantlib.data.ingest import ALREADY, ingest
from quantlib.data.lake import Lake
from quantlib.data.storage import ObjectPath
from quantlib.data.warehouse import build_warehouse
from quantlib.errors import WarehouseNotFoundError
from tests.conftest import PROFILES


@pytest.fixture(scope="module")
def small_company(tmp_path_factory):
    """A year of a small mixed-trades company written as exports, a second export with a good and a bad
    job, and both ingested into a local lake and built as ``quant warehouse build --company`` does."""
    from quantlib.cli.warehouse import read_profile
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.profile import load_profile

    profile = load_profile(PROFILES / "mixed_trades.yaml").model_copy(update={"start": dt.date(2024, 1, 1)})
    root = tmp_path_factory.mktemp("small_company")
    company = generate_company(profile, scale=0.15)
    write_company(company, root / "raw")
    jobs = company.tables["jobs"].head(2).assign(job_id=["JX1", "JX2"])
    jobs.loc[jobs.index[1], "customer_id"] = "NO-SUCH-CUSTOMER"
    (root / "more").mkdir()
    jobs.to_csv(root / "more" / "jobs.csv", index=False)
    local = Lake(root / "lake")
    assert ingest(root / "raw", local).ok and ingest(root / "more", local).rows_rejected == 1
    name, targets = read_profile(PROFILES / "mixed_trades.yaml")
    build_warehouse(local, targets=targets, company=name)
    return root / "raw", root / "more", local


def test_a_lake_on_object_storage_from_ingest_to_kpis(small_company, s3_bucket, tmp_path, monkeypatch):
    from quantlib.cli import app
    from quantlib.kpi import kpi_summary

    raw, more, local = small_company
    url = f"{s3_bucket}/companies/acme/lake"
    runner = CliRunner()
    landed = runner.invoke(app, ["ingest", str(raw), "--lake", url])
    assert landed.exit_code == 0, landed.output
    lake = Lake(url)
    assert lake.remote and lake.manifest.is_file() and not (raw.parent / "s3:").exists()
    assert {f.status for f in ingest(raw, url).files} == {ALREADY}  # the manifest on S3 was read back
    # A rejected row lands in the rejects on S3, with its reason.
    report = ingest(more, lake)
    assert (report.rows_accepted, report.rows_rejected) == (1, 1)
    rejects = pd.read_parquet(lake.rejects.open("rb"))
    assert rejects["raw"].str.contains("NO-SUCH-CUSTOMER").sum() == 1 and rejects["reason_code"].notna().all()
    assert set(lake.silver_tables()) == set(local.silver_tables())
    for name, path in lake.silver_tables().items():  # silver on S3 is what a local ingest writes
        pd.testing.assert_frame_equal(pd.read_parquet(path.open("rb")), pd.read_parquet(local.silver_table(name)))
    assert [p.relative_to(lake.root).as_posix() for p in (lake.bronze / "jobs").glob("*")] == \
        [p.relative_to(local.root).as_posix() for p in (local.bronze / "jobs").glob("*")]

    with pytest.raises(WarehouseNotFoundError, match=f"quant warehouse build --lake {url}"):
        gold_file(lake)
    built = runner.invoke(app, ["warehouse", "build", "--lake", url, "--company", "mixed_trades"])
    assert built.exit_code == 0, built.output
    assert lake.gold.is_file() and not any(p.name.endswith(".tmp") for p in lake.root.files())
    with open_gold(url) as con, open_gold(local) as mine:
        for table in ("jobs", "job_facts", "customer_features", "targets"):
            query = f"SELECT count(*) FROM {table}"
            assert con.execute(query).fetchone() == mine.execute(query).fetchone(), table

    # The KPIs read from S3 are those of the same data built locally (sums may differ in the last bits:
    # DuckDB adds in parallel).
    shown = runner.invoke(app, ["kpi", "--lake", url])
    assert shown.exit_code == 0 and "profit_margin" in shown.output, shown.output
    pd.testing.assert_series_equal(kpi_summary(lake).set_index("kpi")["value"],
                                   kpi_summary(local).set_index("kpi")["value"], rtol=1e-9)
    # A command whose --lake is still a Path option gets the URL unfolded (Path folds "s3://" to "s3:/"):
    # the scorecard reads gold's period from S3 and answers as it does on the local lake (a year of
    # data has no earlier baseline year).
    card = runner.invoke(app, ["scorecard", "--baseline-year", "2024", "--lake", url])
    mine = runner.invoke(app, ["scorecard", "--baseline-year", "2024", "--lake", str(local.root)])
    assert card.exit_code == mine.exit_code and card.output == mine.output and "2024-12-31" in card.output

    # Another machine (an empty cache) reads the same build, downloaded once.
    first = gold_file(lake)
    monkeypatch.setenv("QUANT_GOLD_CACHE", str(tmp_path / "other_machine"))
    second = gold_file(lake)
    assert second != first and second.read_bytes() == first.read_bytes() and gold_file(lake) == second

    assert isinstance(lake.gold, ObjectPath) and lake.gold.stat().st_size == first.stat().st_size


def test_an_ingest_cut_short_on_object_storage_is_repeated_whole(s3_bucket, tmp_path, monkeypatch):
    from tests.data.conftest import sample_tables, write_exports

    src = write_exports(sample_tables(), tmp_path / "src")
    lake = Lake(f"{s3_bucket}/lake")
    upload = ObjectPath.upload

    def cut(self, local):
        if self.name == "jobs.parquet":
            raise OSError("connection reset by peer")
        upload(self, local)

    monkeypatch.setattr(ObjectPath, "upload", cut)
    with pytest.raises(OSError, match="connection reset"):
        ingest(src, lake)
    assert not lake.manifest.exists()  # no file recorded as loaded: the next run repeats them all
    monkeypatch.setattr(ObjectPath, "upload", upload)
    report = ingest(src, lake)
    assert report.ok and report.rows_rejected == 0 and {f.status for f in report.files} == {"loaded"}
    local = Lake(tmp_path / "local")
    ingest(src, local)
    assert set(lake.silver_tables()) == set(local.silver_tables())
    for name, path in lake.silver_tables().items():
        pd.testing.assert_frame_equal(pd.read_parquet(path.open("rb")), pd.read_parquet(local.silver_table(name)))


def test_without_credentials_a_command_says_which_variables_in_one_line(monkeypatch, capsys):
    from quantlib.cli import main

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.argv", ["quant", "kpi", "--lake", "s3://quant-nowhere/lake"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 1
    assert capsys.readouterr().err.strip() == ("quant: s3://: no credentials; set AWS_ACCESS_KEY_ID and "
                                               "AWS_SECRET_ACCESS_KEY in the environment")

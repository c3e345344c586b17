"""Published reports pushed to object storage (the session's local S3 server): run folders and the
index, changed files only, the index last, workspace state kept out."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from typer.testing import CliRunner

from quantlib.data.storage import ObjectPath
from quantlib.publish.mirror import MirrorError, push_reports

RUN = "weekly_operations/mixed_trades/20261207T0600"


@pytest.fixture
def reports(tmp_path):
    folder = tmp_path / "reports"
    run = folder / RUN
    run.mkdir(parents=True)
    (run / "report.html").write_text("<html>weekly</html>")
    (run / "report.pdf").write_bytes(b"%PDF-1.7 weekly")
    (run / "run.json").write_text('{"status": "success"}')
    (folder / "index.html").write_text(f'<a href="{RUN}/report.html">weekly</a>')
    with closing(sqlite3.connect(folder / ".history.sqlite")) as history:  # state, not a publication
        history.execute("CREATE TABLE runs (id INTEGER)")
        history.commit()
    (folder / ".locks").mkdir()
    (folder / ".locks" / "index.lock").write_text("pid")
    (folder / ".tmp").mkdir()
    (folder / ".tmp" / "half.html").write_text("not yet")
    return folder


def test_reports_are_pushed_once_and_changes_follow(reports, s3_bucket, monkeypatch):
    target = ObjectPath(f"{s3_bucket}/acme/reports")
    result = push_reports(reports, str(target))
    assert result.sent[-1] == "index.html" and result.unchanged == []  # the index after what it links to
    assert sorted(result.sent) == sorted([f"{RUN}/report.html", f"{RUN}/report.pdf", f"{RUN}/run.json", "index.html"])
    assert {p.relative_to(target).as_posix() for p in target.files()} == set(result.sent)
    assert (target / RUN / "report.pdf").read_bytes() == (reports / RUN / "report.pdf").read_bytes()
    info = target.fs.info((target / "index.html").path)
    assert info["ContentType"] == "text/html"  # served as a page, not a download

    again = push_reports(reports, target)
    assert again.sent == [] and len(again.unchanged) == 4
    (reports / "index.html").write_text(f'<a href="{RUN}/report.html">WEEKLY</a>')  # same size, new content
    changed = push_reports(reports, target)
    assert changed.sent == ["index.html"]
    assert "WEEKLY" in (target / "index.html").read_text()


def test_the_command_and_its_refusals(reports, s3_bucket, tmp_path):
    from quantlib.cli import app

    runner = CliRunner()
    pushed = runner.invoke(app, ["reports", "push", "--reports", str(reports), "--to", f"{s3_bucket}/r"])
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.strip() == f"{s3_bucket}/r/index.html" and "4 files sent" in pushed.output
    with pytest.raises(MirrorError, match="not object storage"):
        push_reports(reports, tmp_path / "copy")
    with pytest.raises(MirrorError, match="no reports folder"):
        push_reports(tmp_path / "nothing", f"{s3_bucket}/r")
    nowhere = runner.invoke(app, ["reports", "push", "--reports", str(reports), "--to", "s3://no-such-bucket-here/r"])
    assert nowhere.exit_code == 1 and nowhere.output.startswith("quant reports push:")

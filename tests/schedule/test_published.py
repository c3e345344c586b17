"""Published runs: readable by a web server, kept to the retention limit, listed by a templated index."""

from __future__ import annotations

import os
import stat
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from quantlib.publish.index import write_index, write_run_record
from quantlib.schedule.runner import run_job
from tests.schedule.conftest import write_spec

SLOT = datetime(2026, 11, 27, 6, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_published_runs_are_world_readable_kept_to_the_limit_and_indexed(project):
    spec = write_spec(project, title="Monthly business review", outputs=["ipynb"], retention={"keep_last": 2})
    old_umask = os.umask(0o077)  # a daemon's restrictive umask must not hide published runs
    try:
        outcomes = [run_job(spec, "parameters/reports/alpha.yaml", workspace=project, send=False,
                            scheduled_for=SLOT + timedelta(days=i)) for i in range(3)]
    finally:
        os.umask(old_umask)
    assert all(o.status == "success" for o in outcomes), [o.summary() for o in outcomes]
    kept = sorted(p.name for p in (project.reports / "test_report" / "alpha").iterdir())
    assert kept == sorted(o.run_id for o in outcomes[1:])  # the oldest run is gone
    run_dir = outcomes[-1].run_dir
    assert [mode(d) for d in (run_dir, run_dir.parent, run_dir.parent.parent, project.reports)] == [0o755] * 4
    assert {p.name: mode(p) for p in run_dir.iterdir()} == {"notebook.ipynb": 0o644, "run.json": 0o644}
    assert mode(project.reports / "index.html") == 0o644
    html = (project.reports / "index.html").read_text()
    # Human title and company name, the period, newest run first, the removed run not listed.
    assert "<h2>Monthly business review" in html and ">Alpha Services</td>" in html
    assert ">2026-11-29</td>" in html and ">2026-11-28</td>" in html and "2026-11-27" not in html
    assert html.index(outcomes[2].run_id) < html.index(outcomes[1].run_id)
    assert outcomes[0].run_id not in html
    assert list(project.tmp.iterdir()) == []


def test_index_is_autoescaped(tmp_path):
    run_dir = tmp_path / "job" / "acme" / "20260101T000000Z-aaaaaa"
    run_dir.mkdir(parents=True)
    write_run_record(run_dir, {"job": "job", "company": "acme", "run_id": run_dir.name, "status": "success",
                               "title": "<script>alert(1)</script>", "company_name": "Smith & Sons <Ltd>",
                               "period": "Q1 \"2026\"", "finished": "2026-01-01T00:00:00", "outputs": {}})
    html = write_index(tmp_path).read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Smith &amp; Sons &lt;Ltd&gt;" in html and "Q1 &#34;2026&#34;" in html


def test_jinja2_is_a_declared_dependency():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.lower().startswith("jinja2") for d in deps)
    assert (ROOT / "quantlib" / "publish" / "templates" / "index" / "index.html.j2").is_file()

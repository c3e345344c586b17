"""Run records and ``reports/index.html``: every published run, newest first.

A run folder is ``reports/<job>/<company>/<run_id>/`` with ``report.html``, ``report.pdf``,
``notebook.ipynb`` and ``run.json``. The scheduler moves finished runs into place and calls
:func:`write_run_record` and :func:`write_index`; both write atomically (temp file, then
rename) so a reader never sees half a file. The index is rendered from the Jinja2 template
``templates/index/index.html.j2`` with autoescaping on: every job title, company name and
period from a record is escaped.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from quantlib.errors import RunStatus

__all__ = ["RUN_RECORD", "load_runs", "write_index", "write_run_record"]

RUN_RECORD = "run.json"
#: Output kinds in the order the index shows their links.
OUTPUT_LABELS = {"html": "HTML", "pdf": "PDF", "notebook": "Notebook"}


def _atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_run_record(run_dir: Path, record: dict) -> Path:
    """Write ``run_dir/run.json`` atomically.

    Parameters
    ----------
    run_dir : Path
        The run folder.
    record : dict
        ``{"job", "company", "run_id", "parameters", "started", "finished", "status",
        "outputs": {"html": "report.html", "pdf": "report.pdf", "notebook": "notebook.ipynb"}}``;
        ``status`` is a :class:`~quantlib.errors.RunStatus` (or its string value) and is stored
        as the string; dates/datetimes are stored as ISO strings.
    """
    missing = [k for k in ("job", "company", "run_id", "status") if k not in record]
    if missing:
        raise ValueError(f"run record lacks {', '.join(missing)}")
    # Unknown statuses are refused here, when written, rather than shown oddly in the index.
    record = {**record, "status": RunStatus(record["status"]).value}
    text = json.dumps(record, indent=2, sort_keys=True, default=_iso) + "\n"
    return _atomic_write_text(Path(run_dir) / RUN_RECORD, text)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_runs(reports_dir: Path) -> list[dict]:
    """Every ``<job>/<company>/<run_id>/run.json`` under ``reports_dir``, newest first.

    Each record gains ``_dir`` (the run folder relative to ``reports_dir``). Unreadable
    records are skipped: one broken run must not hide the others.
    """
    reports_dir = Path(reports_dir)
    runs = []
    for path in reports_dir.glob(f"*/*/*/{RUN_RECORD}"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        rel = path.parent.relative_to(reports_dir)
        record.setdefault("job", rel.parts[0])
        record.setdefault("company", rel.parts[1])
        record.setdefault("run_id", rel.parts[2])
        record["_dir"] = rel.as_posix()
        runs.append(record)
    runs.sort(key=lambda r: (str(r.get("finished") or r.get("started") or ""), str(r.get("run_id"))), reverse=True)
    return runs


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value)


def _links(run: dict, reports_dir: Path | None) -> list[dict[str, str]]:
    outputs = run.get("outputs") or {}
    links = []
    for kind, label in OUTPUT_LABELS.items():
        name = outputs.get(kind)
        # Link only files that are really there: a dead link in an index is worse than none.
        # (No folder: the runs come from the run history, each with the outputs it published.)
        if name and (reports_dir is None or (reports_dir / run["_dir"] / name).exists()):
            href = "/".join(quote(p) for p in (*run["_dir"].split("/"), *Path(name).parts))
            links.append({"href": href, "label": label})
    return links


_CSS = """
body{margin:0;font-family:"Liberation Sans",Helvetica,Arial,"DejaVu Sans",sans-serif;color:#222;line-height:1.5}
header{background:#f4f6f8;border-bottom:3px solid #2f5d8a;padding:1.6rem max(1.5rem,calc((100% - 64rem)/2))}
h1{margin:0;font-size:1.7rem} .sub{color:#666}
main{padding:1rem max(1.5rem,calc((100% - 64rem)/2)) 3rem}
.filters{margin:.5rem 0 1rem;display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
select{font:inherit;padding:.2rem .4rem}
h2{font-size:1.2rem;color:#2f5d8a;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
h2 .slug,.run-id{color:#999;font-size:.8rem;font-weight:normal}
table{border-collapse:collapse;width:100%;font-size:.92rem;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e2e2e2}
thead th{border-bottom:2px solid #222}
td a{margin-right:.6rem;color:#2f5d8a}
.status{font-weight:600}.status-success{color:#2e7d32}.status-failed,.status-timeout{color:#b3261e}
.none,.empty{color:#999}
"""

# Inline, no src: filtering works offline and from file://.
_JS = """
(function(){
  var job=document.getElementById('f-job'), company=document.getElementById('f-company');
  function apply(){
    document.querySelectorAll('tr.run').forEach(function(tr){
      var ok=(!job.value||tr.dataset.job===job.value)&&(!company.value||tr.dataset.company===company.value);
      tr.hidden=!ok;
    });
    document.querySelectorAll('section.job').forEach(function(s){
      s.hidden=!s.querySelector('tr.run:not([hidden])');
    });
  }
  job.addEventListener('change',apply); company.addEventListener('change',apply);
})();
"""


@lru_cache(maxsize=1)
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates" / "index")),
        autoescape=True,  # record fields (titles, names, periods) are data, never markup
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("index.html.j2")


def _render(runs: list[dict], reports_dir: Path | None, generated: datetime) -> str:
    jobs: dict[str, dict] = {}
    companies: dict[str, str] = {}
    for r in runs:  # newest first, so a job's title and a company's name come from the newest run
        slug, company = str(r["job"]), str(r["company"])
        job = jobs.setdefault(slug, {"slug": slug, "title": str(r.get("title") or slug), "runs": []})
        name = str(r.get("company_name") or company)
        companies.setdefault(company, name)
        job["runs"].append({
            "company": company, "company_name": name, "period": str(r.get("period") or ""),
            "finished": _when(r.get("finished") or r.get("started")), "status": str(r.get("status", "")),
            "run_id": str(r["run_id"]), "links": _links(r, reports_dir),
        })
    return _template().render(
        runs=runs, jobs=list(jobs.values()),  # jobs in the order of their newest run
        companies=[{"slug": k, "name": v} for k, v in sorted(companies.items(), key=lambda kv: kv[1].lower())],
        generated=f"{generated:%Y-%m-%d %H:%M}", css=_CSS, js=_JS,
    )


def _newest_first(runs: list[dict]) -> list[dict]:
    return sorted(runs, key=lambda r: (str(r.get("finished") or r.get("started") or ""), str(r.get("run_id"))),
                  reverse=True)


def write_index(reports_dir: Path, runs: list[dict] | None = None) -> Path:
    """Write ``reports_dir/index.html`` listing every run (newest first), atomically.

    Grouped by job, filterable by job and company (inline script, nothing from the
    network); links to each run's HTML, PDF and executed notebook are relative, so the
    folder can be served or copied as it is.

    Parameters
    ----------
    reports_dir : Path
        The reports folder.
    runs : list of dict, optional
        The run records to list (each a ``run.json`` with ``_dir``, its folder relative to the
        index), e.g. every run the scheduler uploaded to object storage, from the run history:
        listed whether or not their folders are on this machine. Default: the runs under
        ``reports_dir`` (:func:`load_runs`), linking only outputs present there.
    """
    reports_dir = Path(reports_dir)
    if runs is None:
        runs, folder = load_runs(reports_dir), reports_dir
    else:
        runs, folder = _newest_first([dict(r) for r in runs]), None
    html = _render(runs, folder, datetime.now(timezone.utc))
    return _atomic_write_text(reports_dir / "index.html", html)

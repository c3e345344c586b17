"""The scheduled jobs as Kubernetes CronJobs: every manifest validates against the Kubernetes schema,
n-th weekday crons become a week of days and a weekday check, and what cannot be expressed says so."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from typer.testing import CliRunner

from quantlib.schedule.kubernetes import (
    KubernetesExportError,
    KubernetesSettings,
    cron_for_kubernetes,
    cronjob,
    export_cronjobs,
)
from quantlib.schedule.specs import JobSpec, load_specs
from tests.conftest import ROOT

kubernetes_validate = pytest.importorskip("kubernetes_validate")
#: The Kubernetes release whose schema the manifests are checked against (timeZone is GA since 1.27).
KUBERNETES = "1.30"


def _job(**values) -> JobSpec:
    base = {"name": "weekly", "title": "Weekly", "notebook": "notebooks/weekly_operations.ipynb",
            "parameters": ["parameters/reports/mixed_trades.yaml"], "cron": "0 9 * * 1"}
    return JobSpec.model_validate({**base, **values})


def test_every_shipped_job_exports_to_a_valid_cronjob(tmp_path):
    jobs = load_specs(ROOT / "scheduled")
    settings = KubernetesSettings(image="registry.example.com/quant:1.0", namespace="analytics")
    written = export_cronjobs(jobs, tmp_path, settings)
    assert len(written) == sum(len(job.companies) for job in jobs.values())
    for path in written:
        manifest = yaml.safe_load(path.read_text())
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)  # raises on any schema error
        spec = manifest["spec"]
        container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert manifest["metadata"]["namespace"] == "analytics" and container["image"] == settings.image
        assert spec["concurrencyPolicy"] == "Forbid" and spec["jobTemplate"]["spec"]["backoffLimit"] == 0
        assert container["envFrom"] == [{"secretRef": {"name": "quant-secrets", "optional": True}}]
        job = jobs[manifest["metadata"]["labels"]["quant/job"]]
        assert spec["timeZone"] == job.timezone and manifest["metadata"]["annotations"]["quant/cron"] == job.cron
        assert "quant schedule run" in " ".join(container["command"])
    # The check can fail: a misspelt field or a wrong type is a schema error.
    broken = yaml.safe_load(written[0].read_text())
    broken["spec"]["concurencyPolicy"] = broken["spec"].pop("concurrencyPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    broken = yaml.safe_load(written[0].read_text())
    broken["spec"]["jobTemplate"]["spec"]["backoffLimit"] = "none"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_nth_weekday_is_a_week_of_days_and_a_weekday_check():
    assert cron_for_kubernetes(_job(cron="30 7 * * 1#1")) == ("30 7 1-7 * *", 1)
    assert cron_for_kubernetes(_job(cron="0 8 * * 5#3")) == ("0 8 15-21 * *", 5)
    assert cron_for_kubernetes(_job(cron="0 8 * * 0#2")) == ("0 8 8-14 * *", 7)  # Sunday is ISO day 7
    assert cron_for_kubernetes(_job(cron="0 9 * * 1")) == ("0 9 * * 1", None)
    manifest = cronjob(_job(cron="30 7 * * 1#1", timezone="America/Chicago"), "mixed_trades")
    command = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    # The guard really runs only on the right weekday (a shell with the job's time zone).
    script = command[2].replace("exec quant schedule run weekly --company mixed_trades", "echo RUN")
    for weekday, runs in ((1, True), (3, False)):
        fake = script.replace("$(TZ=America/Chicago date +%u)", str(weekday))
        assert ("RUN" in subprocess.run(["/bin/sh", "-c", fake], capture_output=True, text=True).stdout) == runs


def test_what_kubernetes_cannot_express_is_refused_by_name():
    for cron, extra, reason in (("0 9 L * *", {}, "cannot express"),
                                ("0 9 1 * 1#1", {"day_match": "or"}, "day of the month"),
                                ("0 9 * * 1#1,3#1", {}, "only one n-th weekday")):
        with pytest.raises(KubernetesExportError, match=f"weekly: .*{reason}"):
            cron_for_kubernetes(_job(cron=cron, **extra))
    with pytest.raises(KubernetesExportError, match="day_match 'and'"):
        cron_for_kubernetes(_job(cron="0 9 1-7 * 1", day_match="and"))
    with pytest.raises(KubernetesExportError, match="longer than 52"):
        cronjob(_job(name="a-very-long-job-name-for-a-cluster"), "a_company_with_a_long_name")


def test_the_command(tmp_path):
    from quantlib.cli import app

    done = CliRunner().invoke(app, ["schedule", "export", "--kubernetes", str(tmp_path / "k8s"),
                                    "--image", "quant:test", "--secret", "s"])
    assert done.exit_code == 0, done.output
    files = sorted((tmp_path / "k8s").glob("*.yaml"))
    assert files and "CronJobs in" in done.output
    first = yaml.safe_load(files[0].read_text())
    assert first["kind"] == "CronJob" and "s" == first["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"][0]["envFrom"][0]["secretRef"]["name"]

"""``scheduled/*.yaml`` as Kubernetes CronJobs, for a company that runs its jobs on a cluster.

One CronJob per job and company (``quant schedule run NAME --company C`` in the project's image,
the workspace on a persistent volume, the secrets from a Secret by reference: never a value in a
manifest). The scheduler's own retries and timeouts stay in charge (``backoffLimit: 0``, the
pod's deadline covers every attempt), ``concurrencyPolicy: Forbid`` keeps one run at a time like
the run lock, and ``timeZone`` carries the spec's time zone.

Kubernetes' cron has no "n-th weekday of the month" (croniter's ``1#1``): such a job is scheduled
on that week's seven days of the month and the container runs it only on the right weekday,
checked in the job's time zone (``TZ=... date +%u``; the image needs tzdata). Anything else
Kubernetes cannot express (``L``, ``W``, ``day_match: and`` with both day fields, seconds) is
refused with the job's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from quantlib.errors import QuantError
from quantlib.schedule.specs import JobSpec

__all__ = ["KubernetesExportError", "KubernetesSettings", "cron_for_kubernetes", "cronjob", "export_cronjobs"]

_NTH = re.compile(r"^([0-7])#([1-5])$")
_NAME_LIMIT = 52  # CronJob names: the controller appends 11 characters to name its Jobs


class KubernetesExportError(QuantError, ValueError):
    """A job spec cannot be expressed as a Kubernetes CronJob; the message names the job and why."""


@dataclass(frozen=True)
class KubernetesSettings:
    """Where the jobs run: the image, the workspace volume, the secret, the namespace."""

    image: str = "quant-workspace:latest"
    workspace_claim: str = "quant-workspace"
    mount_path: str = "/srv/quant"
    secret: str = "quant-secrets"
    namespace: str | None = None


def cron_for_kubernetes(job: JobSpec) -> tuple[str, int | None]:
    """The Kubernetes schedule of ``job`` and the ISO weekday (1 = Monday .. 7) the container must
    check, or None when the schedule says everything.

    Raises
    ------
    KubernetesExportError
        The cron has a form Kubernetes' cron cannot express.
    """
    fields = job.cron.split()
    if len(fields) != 5:
        raise KubernetesExportError(f"{job.name}: cron {job.cron!r} is not five fields (minute hour day month "
                                    "weekday); Kubernetes has no seconds")
    minute, hour, dom, month, dow = fields
    for token in (dom, dow):
        if any(mark in token for mark in ("L", "W", "?")):
            raise KubernetesExportError(f"{job.name}: cron {job.cron!r} uses {token!r}, which Kubernetes' cron "
                                        "cannot express")
    nth = _NTH.match(dow)
    if nth:
        if dom != "*":
            raise KubernetesExportError(f"{job.name}: cron {job.cron!r} combines a day of the month with an n-th "
                                        "weekday")
        weekday, n = int(nth.group(1)) % 7 or 7, int(nth.group(2))
        first = (n - 1) * 7 + 1
        return f"{minute} {hour} {first}-{first + 6} {month} *", weekday
    if "#" in dow:
        raise KubernetesExportError(f"{job.name}: cron {job.cron!r}: only one n-th weekday (like 1#1) is supported")
    if job.day_match == "and" and dom != "*" and dow != "*":
        raise KubernetesExportError(f"{job.name}: day_match 'and' with both day fields cannot be expressed "
                                    "(Kubernetes runs on either)")
    return job.cron, None


def _resource_name(job: str, company: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"quant-{job}-{company}".lower()).strip("-")
    if len(name) > _NAME_LIMIT:
        raise KubernetesExportError(f"{job} / {company}: the CronJob name {name!r} is longer than {_NAME_LIMIT} "
                                    "characters")
    return name


def cronjob(job: JobSpec, company: str, settings: KubernetesSettings = KubernetesSettings()) -> dict:
    """The CronJob manifest (a dict) running ``job`` for ``company``."""
    schedule, weekday = cron_for_kubernetes(job)
    run = ["quant", "schedule", "run", job.name, "--company", company]
    if weekday is None:
        command = run
    else:
        # Kubernetes fires on the seven candidate days; the run happens on the right weekday only.
        command = ["/bin/sh", "-c", f'[ "$(TZ={job.timezone} date +%u)" = "{weekday}" ] || exit 0; exec '
                                    + " ".join(run)]
    attempts = job.retries.count + 1
    # Every attempt's timeout plus the longest back-off between them, and a margin for the pod's start.
    deadline = int(job.timeout * attempts + job.retries.max_backoff * job.retries.count + 600)
    labels = {"app.kubernetes.io/name": "quant", "app.kubernetes.io/component": "scheduled-report",
              "quant/job": job.name, "quant/company": re.sub(r"[^A-Za-z0-9_.-]", "-", company)[:63]}
    metadata = {"name": _resource_name(job.name, company), "labels": labels,
                "annotations": {"quant/title": job.title, "quant/cron": job.cron}}
    if settings.namespace:
        metadata["namespace"] = settings.namespace
    container = {
        "name": "quant", "image": settings.image, "workingDir": settings.mount_path, "command": command,
        "envFrom": [{"secretRef": {"name": settings.secret, "optional": True}}],
        "volumeMounts": [{"name": "workspace", "mountPath": settings.mount_path}],
    }
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
        "spec": {
            "schedule": schedule, "timeZone": job.timezone, "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": labels}, "spec": {
                "backoffLimit": 0, "activeDeadlineSeconds": deadline,
                "template": {"metadata": {"labels": labels}, "spec": {
                    "restartPolicy": "Never", "containers": [container],
                    "volumes": [{"name": "workspace",
                                 "persistentVolumeClaim": {"claimName": settings.workspace_claim}}]}}}},
        },
    }


def export_cronjobs(jobs: dict[str, JobSpec], folder: str | Path,
                    settings: KubernetesSettings = KubernetesSettings()) -> list[Path]:
    """Write one ``<name>.yaml`` CronJob per job and company into ``folder``; return the files.

    Raises
    ------
    KubernetesExportError
        A job cannot be expressed (nothing is written then).
    """
    manifests = {}
    for job in jobs.values():
        for company in job.companies:
            manifest = cronjob(job, company, settings)
            manifests[manifest["metadata"]["name"]] = manifest
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, manifest in sorted(manifests.items()):
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written

"""Secrets never reach a kernel: ``quant run``, the scheduler's rule, and the Voila launcher."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

import quantlib.cli.apps as apps_module
import quantlib.cli.run as run_module  # noqa: F401  (registers the commands)
from quantlib.cli.app import app
from quantlib.publish.secrets import is_secret_name, scrubbed_environment, without_secrets
from tests.publish.conftest import make_notebook

SECRETS = {
    "QUANT_SMTP_PASSWORD": "smtp-Passw0rd-value",
    "SMTP_PASSWORD": "other-smtp-pass",
    "QUANT_SMTP_USER": "mailer-user-name",
    "QUANT_SLACK_WEBHOOK_OPS": "https://hooks.slack.test/T/B/secretpath",
    "QUANT_APPS_TOKEN": "apps-token-value",
    "CUSTOMER_API_KEY": "api-key-value-123",
}


@pytest.mark.parametrize("name", [*SECRETS, "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPS_WEBHOOK_URL"])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "PYTHONPATH", "PYTENSOR_FLAGS", "QUANT_LAKE", "QUANT_COMPANY"])
def test_ordinary_names(name):
    assert not is_secret_name(name)


def test_scrubbed_environment_and_extra_names():
    env = {**SECRETS, "PATH": "/bin", "OPS_HOOK": "x"}
    assert scrubbed_environment(env) == {"PATH": "/bin", "OPS_HOOK": "x"}
    assert scrubbed_environment(env, extra=["OPS_HOOK"]) == {"PATH": "/bin"}


def test_without_secrets_restores_the_environment(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with without_secrets():
        with without_secrets():
            assert not set(SECRETS) & set(os.environ)
        assert not set(SECRETS) & set(os.environ)  # still hidden until the outer one leaves
    assert all(os.environ[n] == v for n, v in SECRETS.items())


def test_quant_run_kernel_sees_no_secret(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("QUANT_TEST_ORDINARY", "visible-to-the-kernel")
    nb = make_notebook(tmp_path / "env.ipynb", "import os\nprint(dict(os.environ))",
                       "print(os.environ.get('PATH', 'no path'))",
                       parameters='company = "mixed_trades"\nlake = None\nas_of = None')
    out = tmp_path / "run" / "notebook.ipynb"
    result = CliRunner().invoke(app, ["run", str(nb), "-p", "company=mixed_trades", "--out", str(out), "--html"])
    assert result.exit_code == 0, result.output
    executed = out.read_text()
    html = (out.parent / "report.html").read_text()
    assert "visible-to-the-kernel" in executed  # the environment was printed ...
    for name, value in SECRETS.items():  # ... without a single secret
        for text in (executed, html):
            assert value not in text and name not in text
    assert all(os.environ[n] == v for n, v in SECRETS.items())  # restored for the senders


def test_voila_gets_no_secret(monkeypatch, tmp_path):
    captured = {}

    class FakePopen:
        def __init__(self, command, **kwargs):
            captured.update(kwargs, command=command)
            self.pid = 0

    monkeypatch.setattr(apps_module.subprocess, "Popen", FakePopen)
    env = {**SECRETS, "PATH": os.environ["PATH"], "PYTHONPATH": "/x"}
    server = apps_module.start_voila(port=1, ip="0.0.0.0", company="mixed_trades", lake=tmp_path, env=env)
    try:
        assert server.token == SECRETS["QUANT_APPS_TOKEN"]  # the token still protects the server ...
        kernel_env = captured["env"]
        assert not set(SECRETS) & set(kernel_env)  # ... but neither Voila nor its kernels see a secret
        assert not any(v in " ".join(captured["command"]) for v in SECRETS.values())
        assert kernel_env["QUANT_LAKE"] == str(tmp_path) and kernel_env["PYTHONPATH"] == "/x"
    finally:
        import shutil

        shutil.rmtree(server._tmp, ignore_errors=True)

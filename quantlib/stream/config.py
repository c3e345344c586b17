"""The streams' configuration: ``parameters/streams.yaml`` read into typed settings.

Topics, their partitions and retention, the brokers of each profile and which generated
tables feed which input topic are configuration, apart from the code (Kedro's rule): the same
processors run against the local broker or a production cluster by choosing a profile or
passing ``--brokers``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quantlib.config import load_yaml_model, project_root
from quantlib.errors import QuantError

#: Environment variable naming the brokers (``host:port,host:port``); beats the profile's.
BROKERS_ENV = "QUANT_KAFKA_BROKERS"
DAY_MS = 86_400_000


class StreamConfigError(QuantError, ValueError):
    """``parameters/streams.yaml`` is missing or breaks its rules (the message names the file)."""


class TopicSpec(BaseModel):
    """One topic's settings: partitions and retention (``cleanup.policy`` is delete)."""

    model_config = ConfigDict(extra="forbid")
    partitions: int = Field(ge=1)
    retention_days: float = Field(gt=0)

    def configs(self) -> dict[str, str]:
        """The topic configs set at creation (quixstreams reads ``retention.ms`` back)."""
        return {"retention.ms": str(int(self.retention_days * DAY_MS)), "cleanup.policy": "delete"}


class Profile(BaseModel):
    """Where the brokers are: ``brokers`` (None: the local broker) and the replication factor."""

    model_config = ConfigDict(extra="forbid")
    brokers: str | None = None
    replication: int = Field(default=1, ge=1)
    storage: str = "memory://tansu/"


class Source(BaseModel):
    """A generated table published to an input topic: its event-time columns and key column."""

    model_config = ConfigDict(extra="forbid")
    table: str
    time: list[str]
    key: str

    @field_validator("time", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value


class StreamSettings(BaseModel):
    """The whole of ``parameters/streams.yaml``."""

    model_config = ConfigDict(extra="forbid")
    profile: str = "local"
    #: Seconds between the processors' checkpoints: what bounds an event's latency to its aggregate.
    commit_interval: float = Field(default=0.25, gt=0)
    profiles: dict[str, Profile]
    topics: dict[str, TopicSpec]
    sources: dict[str, list[Source]] = {}

    @model_validator(mode="after")
    def _consistent(self):
        if self.profile not in self.profiles:
            raise ValueError(f"profile {self.profile!r} is not one of {', '.join(self.profiles)}")
        for topic, sources in self.sources.items():
            if topic not in self.topics:
                raise ValueError(f"sources.{topic}: not a topic (topics: {', '.join(self.topics)})")
            from quantlib.data.contracts import CONTRACTS

            for source in sources:
                if source.table not in CONTRACTS:
                    raise ValueError(f"sources.{topic}: {source.table!r} is not a table with a contract")
                columns = CONTRACTS[source.table].columns
                for column in [*source.time, source.key]:
                    if column not in columns:
                        raise ValueError(f"sources.{topic}: {source.table} has no column {column!r}")
        return self

    def active(self, profile: str | None = None) -> Profile:
        """The chosen profile (``profile``, else the file's ``profile``)."""
        name = profile or self.profile
        if name not in self.profiles:
            raise StreamConfigError(f"unknown stream profile {name!r} (profiles: {', '.join(self.profiles)})")
        return self.profiles[name]

    def brokers(self, brokers: str | None = None, profile: str | None = None,
                environ: dict | None = None) -> str | None:
        """The bootstrap servers: ``brokers``, else ``$QUANT_KAFKA_BROKERS``, else the profile's.

        None means no cluster is named: the local broker is to be used.
        """
        env = os.environ if environ is None else environ
        return brokers or env.get(BROKERS_ENV) or self.active(profile).brokers

    def table_topics(self) -> dict[str, str]:
        """Table name → the input topic that carries it."""
        return {source.table: topic for topic, sources in self.sources.items() for source in sources}


def default_streams_path() -> Path:
    return project_root() / "parameters" / "streams.yaml"


def load_stream_settings(path: str | Path | None = None) -> StreamSettings:
    """Read ``parameters/streams.yaml`` (or ``path``); :class:`StreamConfigError` names the problem."""
    return load_yaml_model(path or default_streams_path(), StreamSettings, "stream settings", StreamConfigError)

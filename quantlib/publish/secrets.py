"""Which environment variables are secrets, and keeping them away from notebook kernels.

A kernel runs notebook code and its output ends up in executed notebooks and reports; the
senders (:mod:`quantlib.notify`) run in the calling process. So every kernel Quant starts
(``quant run``, the scheduler, ``quant apps``) gets an environment without secrets, decided
by one rule, :func:`is_secret_name`. And what a kernel computes travels to Quant over sockets
that other local users cannot read (:data:`KERNEL_TRANSPORT_CONFIG`).
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, Mapping

__all__ = [
    "KERNEL_TRANSPORT_CONFIG",
    "SECRET_ENV_NAMES",
    "environment_with_secrets",
    "is_secret_name",
    "scrubbed_environment",
    "secret_names",
    "without_secrets",
]

#: Variables whose values are secrets wherever they appear (redacted from logs and history too).
SECRET_ENV_NAMES = ("QUANT_SMTP_PASSWORD", "SMTP_PASSWORD", "QUANT_APPS_TOKEN", "TWILIO_AUTH_TOKEN")

#: Traitlets configuration for every kernel manager Quant starts (papermill's, Voila's, JupyterLab's):
#: CurveZMQ-encrypted kernel sockets (jupyter_client's ``transport_encryption``) wherever the kernel
#: declares support, as this environment's ipykernel does. Without it a kernel listens on 127.0.0.1
#: in plain text and any local user can subscribe to its output socket and read every result
#: (ipykernel warns about exactly that at each start).
KERNEL_TRANSPORT_CONFIG = {"KernelManager": {"transport_encryption": "auto"}}

# Whole families a kernel never needs: mail settings (host and user included: they say where
# the password works), every Slack variable (webhook URLs are bearer secrets), every Twilio one
# (alerts' SMS and calls: the account SID says where the token works).
_SECRET_PREFIXES = ("QUANT_SMTP_", "QUANT_SLACK_", "TWILIO_", "QUANT_TWILIO_")
# Anything named like a credential, whoever set it (CI tokens, cloud keys, ...).
_SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|WEBHOOK|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True when the variable ``name`` must not reach a kernel.

    Parameters
    ----------
    name : str
        An environment variable name.
    extra : iterable of str
        Further names that are secret here (e.g. a job's Slack webhook variable, whatever it
        is called).

    Returns
    -------
    bool
    """
    return (name in SECRET_ENV_NAMES or name in set(extra) or name.startswith(_SECRET_PREFIXES)
            or bool(_SECRET_WORDS.search(name)))


def secret_names(env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> set[str]:
    """The names in ``env`` (default ``os.environ``) that :func:`is_secret_name` matches."""
    env = os.environ if env is None else env
    extra = {n for n in extra if n}
    return {name for name in env if is_secret_name(name, extra)}


def scrubbed_environment(env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``env`` (default ``os.environ``) without its secrets, for a child process."""
    env = os.environ if env is None else env
    hidden = secret_names(env, extra)
    return {k: v for k, v in env.items() if k not in hidden}


_ENV_LOCK = threading.RLock()
_ENV_DEPTH = 0
_HIDDEN: dict[str, str] = {}


@contextmanager
def without_secrets(extra: Iterable[str] = ()) -> Iterator[None]:
    """Take the secret variables out of ``os.environ`` while kernels start (they copy it).

    papermill offers no way to hand a kernel its own environment, so the process's is
    scrubbed for the duration. Reference-counted so overlapping runs in threads restore the
    environment only when the last one leaves; :func:`environment_with_secrets` still sees
    the hidden values (for distribution).

    Parameters
    ----------
    extra : iterable of str
        Further names to hide (see :func:`is_secret_name`).
    """
    global _ENV_DEPTH
    with _ENV_LOCK:
        _ENV_DEPTH += 1
        for name in secret_names(os.environ, extra):
            _HIDDEN[name] = os.environ.pop(name)
    try:
        yield
    finally:
        with _ENV_LOCK:
            _ENV_DEPTH -= 1
            if _ENV_DEPTH == 0:
                os.environ.update(_HIDDEN)
                _HIDDEN.clear()


def environment_with_secrets() -> dict[str, str]:
    """``os.environ`` including any values :func:`without_secrets` is hiding right now."""
    with _ENV_LOCK:
        return {**os.environ, **_HIDDEN}

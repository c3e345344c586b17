"""Executors: where the runs of one job for many companies happen.

=========  ==================================================================================
``inline`` in the calling process, one after the other (no start-up cost; used for one run)
``local``  a process pool on this machine (``workers`` processes)
``dask``   a Dask distributed cluster: ``Client(address)`` for a running cluster, else a
           ``LocalCluster(n_workers=workers, processes=True, threads_per_worker=1)`` that is
           closed with the executor
=========  ==================================================================================

Every executor is a context manager with ``map(fn, items) -> list`` returning results in the
order of ``items``. ``fn`` must be picklable (a module-level function). With
``return_exceptions=True`` an item whose call raised (or whose worker was lost: a broken
process pool, a Dask worker gone) gets the exception in its place and the other items still
get their results.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Protocol

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "InlineExecutor", "LocalExecutor", "get_executor"]


class Executor(Protocol):
    """What the runner needs from an executor."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], *, return_exceptions: bool = False) -> list[Any]: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc: object) -> None: ...


def _settle(results: list[Callable[[], Any]], return_exceptions: bool) -> list[Any]:
    """Call each ``result`` getter; with ``return_exceptions`` an exception takes its item's place."""
    out = []
    for result in results:
        try:
            out.append(result())
        except Exception as exc:  # noqa: BLE001 - one lost item must not lose the others
            if not return_exceptions:
                raise
            out.append(exc)
    return out


class _Base:
    def close(self) -> None:  # pragma: no cover - overridden where there is something to close
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor(_Base):
    """Run in the calling process, in order."""

    def __init__(self, workers: int | None = None, address: str | None = None):
        if address:
            raise ValueError("the inline executor takes no address")

    def map(self, fn, items, *, return_exceptions=False):
        out = []
        for item in items:
            try:
                out.append(fn(item))
            except Exception as exc:  # noqa: BLE001 - handed back in place of the result
                if not return_exceptions:
                    raise
                out.append(exc)
        return out


class LocalExecutor(_Base):
    """A process pool on this machine.

    Parameters
    ----------
    workers : int, optional
        Processes (default: the number of CPUs, at most 4: each run also starts a kernel).
    """

    def __init__(self, workers: int | None = None, address: str | None = None):
        if address:
            raise ValueError("the local executor takes no address; use --executor dask")
        self.workers = workers or min(4, os.cpu_count() or 1)
        # spawn, not fork: the parent may hold threads (an SMTP client, a Dask client) and
        # forking a threaded process can deadlock.
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, fn, items, *, return_exceptions=False):
        futures = [self._pool.submit(fn, item) for item in items]
        return _settle([f.result for f in futures], return_exceptions)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(_Base):
    """Dask distributed: a cluster by address, or a local cluster started (and closed) here.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the local cluster (default 2); ignored with ``address``.
    address : str, optional
        Scheduler address of a running cluster, e.g. ``tcp://10.0.0.5:8786``.
    """

    def __init__(self, workers: int | None = None, address: str | None = None):
        from dask.distributed import Client, LocalCluster

        self.cluster = None
        if address:
            self.client = Client(address)
        else:
            self.cluster = LocalCluster(
                n_workers=workers or 2,
                processes=True,
                threads_per_worker=1,  # one notebook per worker process: kernels are CPU-bound
                host="127.0.0.1",
                dashboard_address=None,  # no web server to bind in tests and batch jobs
            )
            self.client = Client(self.cluster)

    def map(self, fn, items, *, return_exceptions=False):
        # pure=False: two identical calls are two runs, never one cached result.
        futures = self.client.map(fn, list(items), pure=False)
        if not return_exceptions:
            return self.client.gather(futures)
        return _settle([f.result for f in futures], return_exceptions)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


EXECUTORS: dict[str, type] = {"inline": InlineExecutor, "local": LocalExecutor, "dask": DaskExecutor}


def get_executor(name: str, *, workers: int | None = None, address: str | None = None) -> Executor:
    """Create the executor registered as ``name``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    try:
        cls = EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}") from None
    return cls(workers=workers, address=address)

"""Where the units of work run: in this process, or on the workers of a Dask cluster.

Prefect's ``DaskTaskRunner`` (``prefect-dask``) sends each unit's task to a worker; the worker
builds its detector and estimator once (the per-process caches of :mod:`flows.components`) and
keeps them for every unit it is given. ``workers=N`` starts a local cluster of N single-threaded
worker processes for the run (on GPU hosts one per GPU); ``cluster=tcp://host:8786`` joins a
running scheduler, e.g. one started by ``dask-jobqueue`` or on Kubernetes.

Task runs on the workers report to the Prefect API of the flow run: when the flow runs on
Prefect's temporary (ephemeral) server, its address is put in the settings the task runner
sends along with every task, so workers do not each start a server of their own and the units
show up under the flow run in the UI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from flows.config import PipelineConfig


def project_imports_plugin():
    """A Dask worker plugin that takes the worker's scratch folders off ``sys.path``.

    Dask puts each worker's scratch folder first on ``sys.path``, and that folder holds a spill
    folder named ``storage``. Where this project is installed in editable mode (found by a
    meta-path finder, after the path), ``import storage`` then finds that folder as a namespace
    package instead of :mod:`storage`, and every unit fails to unpickle on the worker. (Defined
    here so that importing this module does not import Dask; cloudpickle sends it by value.)"""
    from distributed.diagnostics.plugin import WorkerPlugin

    class ProjectImports(WorkerPlugin):
        name = "pmrr-project-imports"

        def setup(self, worker) -> None:
            import importlib
            import sys

            scratch = os.path.dirname(str(worker.local_directory))
            sys.path[:] = [p for p in sys.path if not p.startswith(scratch)]
            found = sys.modules.get("storage")
            if found is not None and getattr(found, "__file__", None) is None:
                del sys.modules["storage"]  # the spill folder, imported as a namespace package
            importlib.invalidate_caches()

    return ProjectImports()


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def worker_env(n_workers: int, cpu_count: int | None = None) -> dict[str, str]:
    """Thread limits so that N workers do not oversubscribe the cores (torch, MKL, OpenBLAS);
    the cores are those this process may run on (its CPU affinity: a container's or a batch
    job's share, not the whole machine's)."""
    threads = str(max((cpu_count or len(os.sched_getaffinity(0))) // max(n_workers, 1), 1))
    return {
        name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    }


@contextmanager
def local_cluster(n_workers: int, device: str = "cpu") -> Iterator[str]:
    """Start ``n_workers`` worker processes on this machine; yields the scheduler address.

    CPU: one thread each, the cores split between them. CUDA: one worker per GPU, each seeing
    only its own (``CUDA_VISIBLE_DEVICES``), through ``dask-cuda``'s ``LocalCUDACluster`` where it
    is installed."""
    from distributed import LocalCluster

    options = {"n_workers": n_workers, "threads_per_worker": 1, "dashboard_address": ":0"}
    if device.startswith("cuda"):
        from pmrr_model.devices import DeviceError

        gpus = _gpu_count()
        if n_workers > gpus:
            raise DeviceError(
                f"--workers {n_workers} --device {device}: one worker per GPU, but torch sees "
                f"{gpus} GPU(s) here; use fewer workers or --device cpu"
            )
        try:
            from dask_cuda import LocalCUDACluster

            cluster = LocalCUDACluster(
                CUDA_VISIBLE_DEVICES=list(range(n_workers)), dashboard_address=":0"
            )
        except ImportError:
            cluster = _per_gpu_cluster(n_workers)
    else:
        cluster = LocalCluster(**options, processes=True, env=worker_env(n_workers))
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _per_gpu_cluster(n_workers: int):
    """One worker process per GPU without dask-cuda: a SpecCluster whose worker ``i`` sees GPU
    ``i`` only."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {
        f"gpu-{i}": {
            "cls": Nanny,
            "options": {"nthreads": 1, "env": {"CUDA_VISIBLE_DEVICES": str(i)}},
        }
        for i in range(n_workers)
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": ":0"}}
    return SpecCluster(workers=workers, scheduler=scheduler)


@contextmanager
def scheduler(cfg: PipelineConfig) -> Iterator[str | None]:
    """The scheduler address the run's units go to (None: this process), started here for
    ``workers > 1`` and stopped at the end."""
    if cfg.cluster:
        yield cfg.cluster
    elif cfg.workers > 1:
        with local_cluster(cfg.workers, cfg.device) as address:
            yield address
    else:
        yield None


def on_scheduler(cfg: PipelineConfig, address: str | None) -> PipelineConfig:
    """``cfg`` pointing at a running scheduler, so that the video flows it is given to join it
    instead of each starting a cluster of its own."""
    if address is None:
        return cfg
    return cfg.model_copy(update={"cluster": address, "workers": 1})


def worker_count(address: str | None) -> int:
    """Workers on the scheduler at ``address`` now (1 for this process)."""
    if address is None:
        return 1
    from distributed import Client

    with Client(address, timeout=30) as client:
        return max(1, len(client.scheduler_info()["workers"]))


@contextmanager
def task_runner(address: str | None) -> Iterator[object | None]:
    """A started ``DaskTaskRunner`` on ``address`` (None for none), with the flow run's Prefect
    API in the settings it sends to the workers."""
    if address is None:
        yield None
        return
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect_dask import DaskTaskRunner

    with ExitStack() as stack:
        if not PREFECT_API_URL.value():  # the flow runs on a temporary server: share it
            api = str(get_client(sync_client=True).api_url)
            stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api}))
        runner = stack.enter_context(DaskTaskRunner(address=address))
        plugin = project_imports_plugin()
        runner.client.register_plugin(plugin, name=plugin.name)
        yield runner


def run_units(runner, task, items: list[dict], progress=None) -> list:
    """``task(**item)`` for every item, on the runner's workers; results in item order.
    ``progress(n_done)`` after each. The first failure is raised (the video fails)."""
    futures = [runner.submit(task, parameters=item) for item in items]
    results = []
    for future in futures:
        results.append(future.result())
        if progress is not None:
            progress(len(results))
    return results

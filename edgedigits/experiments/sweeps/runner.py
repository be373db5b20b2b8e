"""The sweep runner: independent trials in worker processes or on a Ray cluster, one result file per trial.

Each finished trial is written at once to OUT/trials/ID.json, so an interrupted sweep resumes where it stopped:
a trial whose file exists is not rerun. The files are the same whichever way the trials ran. Trials are plain Ray
tasks rather than Ray Tune trials: Tune's own checkpoint/resume layout would duplicate the one-file-per-trial
bookkeeping that also serves the local path, and none of these sweeps needs Tune's schedulers.

Trial functions are module-level functions of one dict, so a spawned process and a Ray worker can import and call
them; they import TensorFlow inside the worker, and the parent process only schedules and aggregates.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgedigits.errors import InputError
from edgedigits.limits import MAX_TRIALS
from edgedigits.runtime.model.artifacts import ensure_writable_dir, write_json_atomic
from edgedigits.runtime.model.jsonfile import read_json
from edgedigits.training import config

log = logging.getLogger(__name__)


@dataclass
class Trial:
    id: str
    params: dict = field(default_factory=dict)


@dataclass
class Sweep:
    """What every kind of sweep shares: the recipe with its fixed overrides, where results and trial runs go, and
    where trials run."""

    recipe: config.Pipeline
    out_dir: Path
    runs_dir: Path
    data_dir: str | None = None
    workers: int = 1
    ray_address: str | None = None
    overrides: dict = field(default_factory=dict)

    def params(self, **more) -> dict:
        """A trial's parameters: the recipe, the data and the fixed overrides, then its own (overrides merged)."""
        overrides = {**self.overrides, **more.pop("overrides", {})}
        return {"pipeline": self.recipe.path or self.recipe.name, "data_dir": self.data_dir, "overrides": overrides,
                **more}

    def check(self, overrides: dict) -> config.Pipeline:
        """Refuse a bad override here, before any trial starts, rather than in every worker; the trial's recipe."""
        return config.with_overrides(self.recipe, {**self.overrides, **overrides})

    def run(self, trials: list[Trial], fn: Callable[[dict], dict]) -> dict[str, dict]:
        return run_trials(trials, fn, self.out_dir, self.workers, self.ray_address)


def run_trials(trials: list[Trial], fn: Callable[[dict], dict], out_dir: Path, workers: int = 1,
               ray_address: str | None = None) -> dict[str, dict]:
    """Run every trial not yet finished in out_dir/trials; returns {id: result} for all trials, in trial order."""
    check_trials(len(trials))
    trials_dir = ensure_writable_dir(Path(out_dir) / "trials")
    results, todo = {}, []
    for trial in trials:
        path = trials_dir / f"{trial.id}.json"
        try:
            found = read_json(path) if path.is_file() else None
        except (OSError, ValueError):  # not a result this sweep wrote (it writes each atomically): run it again
            log.warning(f"edgedigits: {path} does not read as a trial result; running the trial again")
            found = None
        if isinstance(found, dict) and found.get("id") == trial.id:
            results[trial.id] = found
        else:
            todo.append(trial)
    where = f"Ray at {ray_address}" if ray_address else f"{workers} local worker process{'es' * (workers > 1)}"
    log.info(f"{len(trials)} trials: {len(results)} already finished in {trials_dir}, {len(todo)} to run on {where}")
    start = time.perf_counter()
    run = _run_on_ray(todo, fn, ray_address) if ray_address else _run_locally(todo, fn, workers)
    for n, (trial, result) in enumerate(run, 1):
        record = {"id": trial.id, "params": trial.params, **result}
        write_json_atomic(trials_dir / f"{trial.id}.json", record)
        results[trial.id] = record
        log.info(f"  trial {trial.id} done ({n}/{len(todo)}, {time.perf_counter() - start:.0f} s elapsed)")
    return {trial.id: results[trial.id] for trial in trials}


def _init_worker(threads: int) -> None:
    os.environ["EDGEDIGITS_THREADS"] = str(threads)


def _run_locally(todo: list[Trial], fn, workers: int):
    """Each trial in a fresh spawned process (TensorFlow state never leaks between trials); yields as they finish."""
    if not todo:
        return
    workers = max(1, min(workers, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,),
                             max_tasks_per_child=1) as pool:
        pending = {pool.submit(fn, trial.params): trial for trial in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()


def _run_on_ray(todo: list[Trial], fn, address: str):
    """One Ray task per trial; `address` is a cluster (ray://host:10001, host:6379, auto) or 'local' for a new one."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'edgedigits[ray]'") from None
    if not todo:
        return
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False,
             include_dashboard=False)
    task = ray.remote(fn)
    pending = {task.remote(trial.params): trial for trial in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        yield pending.pop(ready[0]), ray.get(ready[0])


def default_workers() -> int:
    """One trial per 2 cores: a TensorFlow training step uses about two threads well on these small models."""
    return max(1, math.floor((os.cpu_count() or 1) / 2))


def parse_param(text: str) -> tuple[str, list]:
    """'batch_size=32,64' -> ('batch_size', [32, 64]); values are TOML literals, else plain strings."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise InputError(f"--param must look like name=value1,value2, got {text!r}")
    return key.strip(), [config.parse_value(raw) for raw in values.split(",")]


def slug(value) -> str:
    return str(value).replace(".", "p").replace("/", "-").replace(" ", "")


def check_trials(n: int, per_cell: int = 1) -> None:
    if n * per_cell > MAX_TRIALS:
        raise InputError(f"{n * per_cell:,} trials{f' ({n:,} cells x {per_cell} folds)' if per_cell > 1 else ''}: "
                         f"a sweep runs at most {MAX_TRIALS:,}")


def cells_of(params: dict[str, list], folds: int = 1) -> list[dict]:
    """Every combination of the values of `params`, as {key: value} cells (their number checked first)."""
    check_trials(math.prod(len(values) for values in params.values()), folds)  # before building the product
    keys = list(params)
    return [dict(zip(keys, values)) for values in itertools.product(*params.values())]


def cell_id(cell: dict) -> str:
    return "-".join(f"{slug(k)}={slug(v)}" for k, v in cell.items()) or "recipe"


def trial_recipe(params: dict) -> config.Pipeline:
    """In a worker: the trial's recipe, with its overrides."""
    return config.with_overrides(config.load(params["pipeline"]), params.get("overrides", {}))


def trial_run(params: dict, recipe: config.Pipeline | None = None, **start):
    """In a worker: a run of the trial's recipe in its run directory that measures instead of refusing (gate off),
    started from the recipe (`data=` replaces its split, as k-fold does) or, with `model=`, from a trained model."""
    from edgedigits.runtime.model.artifacts import ensure_writable_dir
    from edgedigits.training.run import Run

    recipe = recipe or trial_recipe(params)
    run_dir = ensure_writable_dir(params["run_dir"])
    if "model" in start:
        return Run.from_saved_model(recipe, start["model"], run_dir, params.get("data_dir"), stage="pruned",
                                    gate=False)
    return Run.from_recipe(recipe, run_dir, params.get("data_dir"), record=False, gate=False, data=start.get("data"))


def train_trial(run) -> tuple[object, float]:
    """The train stage on a trial's run: the trained model and the training seconds."""
    from edgedigits.training import stages

    trained = stages.run_stages(run, ["train"]).results["train"]
    return run.model, round(trained.times["train"], 1)

"""A sweep run by an executor (``costspec sweep --executor ray``): the driver compiles the plan
once, splits the points into contiguous ranges, and the executor's tasks run the engine on them;
a task writes its range's Parquet part straight into the output's temporary folder (full
output) or returns its range's answer (a reduction, merged on the driver by the engine's rule,
as ``costspec merge`` does). The temporary is renamed over the target only when every task is
done, so a failed run leaves nothing at the target. The output equals the one-machine output row
for row (parts in point order), whatever the number of tasks.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from costspec import remote
from costspec.errors import CostspecError
from costspec.executors import Executor, ExecutorError

TASK_DIR = ".task-"  # a task writes here, inside the temporary, then renames its part into place
MAX_TASKS = 4096  # (a costspec output folder holds at most this many part files)
# Fault injection for the tests of retries: the first task to start (in any process) creates this
# file and kills its own worker process, as a crashed machine would.
KILL_ONCE = "COSTSPEC_FAULT_KILL_ONCE"


@dataclass(frozen=True)
class Task:
    index: int
    start: int
    end: int
    tmp: str  # the output's temporary folder (on a filesystem every worker can write)
    fs: Any = None  # the pyarrow filesystem it is on, for an output at a URI (shipped with its options)


def _die_once() -> None:
    marker = os.environ.get(KILL_ONCE)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def run_task(plan: Any, task: Task) -> tuple[int, Any, Any]:
    """One task, in a worker: (rows kept, the range's answer for a reduction or None, the
    cheapest rows for the summary)."""
    from costspec import runner

    _die_once()
    if plan.spec.keep is not None:
        answer = _answer(plan, task)
        return answer[0].num_rows, answer, None
    cheapest = runner._Cheapest(plan)
    token = f"{TASK_DIR}{task.index:05d}-{uuid.uuid4().hex[:8]}"
    if task.fs is not None:  # (an object store: the task writes there itself)
        fs, base = task.fs, task.tmp
        private = remote.Folder(fs, f"{base}/{token}")
        kept, names = runner._write_parquet(plan, private, 1, cheapest, None, task.start, task.end)
        for rel in names:
            parent = rel.rpartition("/")[0]
            fs.move(private.path(rel), f"{base}/{parent + '/' if parent else ''}part-{task.index:05d}.parquet")
        fs.delete_dir(private.root)
        return kept, None, cheapest.best
    folder = Path(task.tmp) / token
    folder.mkdir()  # (not parents: a temporary already discarded stays gone)
    kept, names = runner._write_parquet(plan, folder, 1, cheapest, None, task.start, task.end)
    for rel in names:  # part-00000.parquet, or PARTITION=VALUE/.../part-00000.parquet
        dest = Path(task.tmp) / Path(rel).parent / f"part-{task.index:05d}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder / rel, dest)
    for d in sorted({folder / Path(rel).parent for rel in names}, key=lambda p: -len(p.parts)):
        while d != folder and not any(d.iterdir()):
            d.rmdir()
            d = d.parent
    folder.rmdir()
    return kept, None, cheapest.best


def _answer(plan: Any, task: Task) -> tuple[Any, list[Any]]:
    """A reduction over the task's range: its table, and each row's [index, group, key]."""
    from costspec import runner, shards

    table, rows = runner.reduce_range(plan, plan.spec.keep, threads=1, start=task.start, end=task.end)
    return table, shards.candidate_keys(plan, rows)


def collect_task(plan: Any, task: Task) -> Any:
    """One task of an in-memory sweep: its range's rows (or answer, for a reduction)."""
    from costspec import runner

    _die_once()
    if plan.spec.keep is not None:
        return _answer(plan, task)
    import pyarrow as pa

    return pa.Table.from_batches(list(runner.batches(plan, threads=1, start=task.start, end=task.end)),
                                 schema=runner._schema(plan))


def collect(plan: Any, executor: Executor, *, tasks: int | None = None) -> Any:
    """The sweep as one table, its ranges evaluated by the executor's tasks (the same table as
    ``costspec.sweep`` on one machine)."""
    import pyarrow as pa

    from costspec import runner, shards

    n_tasks = tasks if tasks is not None else 4 * executor.cpus()
    if not 1 <= n_tasks <= MAX_TASKS:
        raise ExecutorError(f"tasks: got {n_tasks}, expected 1 to {MAX_TASKS}")
    spans = ranges(plan.points, n_tasks)
    results = dict(executor.map(collect_task, plan, [Task(k, a, b, "") for k, (a, b) in enumerate(spans)]))
    schema = runner._schema(plan)
    if plan.spec.keep is None:
        return pa.concat_tables([results[k] for k in sorted(results)]) if results else schema.empty_table()
    return shards.merge_answers([results[k] for k in sorted(results)], shards.keep_rule(plan.spec.keep))


def _clear_tasks(target: Any) -> None:
    """Remove the tasks' private folders from the temporary (attempts killed mid-write): only
    folders named as a task's, only the part files and partition folders in them."""
    from costspec.targets import TASK, _remove_parts

    if isinstance(target, remote.RemoteTarget):  # (the prefix is this run's own: delete what is in it)
        import pyarrow.fs as pafs

        for info in target.fs.get_file_info(pafs.FileSelector(target.tmp)):
            if TASK.fullmatch(info.base_name):
                target.fs.delete_dir(info.path)
        return
    tmp = target.tmp
    if not tmp.is_dir():
        return
    for d in tmp.iterdir():
        if TASK.fullmatch(d.name) and d.is_dir() and not d.is_symlink():
            _remove_parts(d, depth=1)


def ranges(points: int, tasks: int) -> list[tuple[int, int]]:
    tasks = max(1, min(tasks, points or 1))
    return [(points * k // tasks, points * (k + 1) // tasks) for k in range(tasks)]


def sweep(plan: Any, path: str | os.PathLike[str], executor: Executor, *, tasks: int | None = None,
          on_progress: Callable[[int, int], None] | None = None, if_empty: str | None = None) -> Any:
    """Run ``plan``'s sweep on ``executor`` into ``path`` (Parquet); returns a runner.Summary.
    With ``if_empty``, a run that keeps no row fails with that message (as runner.write)."""
    import pyarrow.parquet as pq

    from costspec import runner, shards, targets

    at_uri = remote.is_uri(path)
    target: Any = remote.RemoteTarget(str(path)) if at_uri else targets.Target(Path(os.fspath(path)), True,
                                                                                   plan.spec.inputs)
    n_tasks = tasks if tasks is not None else 4 * executor.cpus()
    if not 1 <= n_tasks <= MAX_TASKS:
        raise ExecutorError(f"--tasks: got {n_tasks}, expected 1 to {MAX_TASKS}")
    spans = ranges(plan.points, n_tasks)
    t0 = time.perf_counter()
    cheapest = runner._Cheapest(plan)
    kept = 0
    answers: dict[int, Any] = {}
    try:
        target.prepare()
        fs = target.fs if at_uri else None
        work = [Task(k, a, b, str(target.tmp), fs) for k, (a, b) in enumerate(spans)]
        with contextlib.closing(executor.map(run_task, plan, work)) as results:
            for k, (rows, answer, best) in results:
                kept += rows
                if answer is not None:
                    answers[k] = answer
                if best:  # (each task's cheapest rows, as runner.Rows holds them)
                    cheapest.merge(best)
                if on_progress:
                    on_progress(spans[k][1] - spans[k][0], rows)
        _clear_tasks(target)  # (attempts killed mid-write)
        if plan.spec.keep is not None:
            table = shards.merge_answers([answers[k] for k in sorted(answers)], shards.keep_rule(plan.spec.keep))
            if table.num_rows:
                cheapest.add(table)
            kept = table.num_rows
            files = runner._write_table(table, target.data, "parquet", plan.spec.partition_by)
        else:
            if at_uri:
                files = sorted(target.new_parts())
                on_disk = 0
                for rel in files:
                    with target.fs.open_input_file(f"{target.tmp}/{rel}") as fh:
                        on_disk += pq.read_metadata(fh).num_rows
            else:
                parts = sorted(p for p in target.tmp.rglob("part-*.parquet") if targets.PART.fullmatch(p.name)
                               and not any(x.startswith(".") for x in p.relative_to(target.tmp).parts))
                files = [p.relative_to(target.tmp).as_posix() for p in parts]
                on_disk = sum(pq.read_metadata(p).num_rows for p in parts)
            if not files:  # (a partitioned output that keeps nothing: one empty part, flat)
                files = runner._write_table(runner._schema(plan).empty_table(), target.data, "parquet")
            if not plan.spec.partition_by and len(files) != len(spans) or on_disk != kept:
                raise ExecutorError(f"the cluster's tasks kept {kept:,} rows and {on_disk:,} are in {target.tmp}: "
                                    "the output folder must be on a filesystem every worker shares")
        if if_empty is not None and kept == 0:
            raise CostspecError(if_empty)
        runner.commit(target)
    except BaseException as e:
        if target.made and not at_uri:
            _clear_tasks(target)
        target.discard()
        if isinstance(e, OSError):
            raise CostspecError(f"cannot write {target.path}: {e.strerror or e}") from None
        raise
    return runner.Summary(plan.points, kept, time.perf_counter() - t0, str(target.path), files, cheapest.result(),
                          cheapest.key)

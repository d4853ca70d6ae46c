"""Where a sweep's tasks run when it goes beyond one machine: the seam between the distributed
sweep (``costspec.distributed``: plan, tasks, output, merge, commit) and a cluster runtime.

An executor runs a picklable function over a list of tasks with one shared payload (the compiled
plan, shipped once) and yields each task's result as it completes, retrying tasks lost to dead
workers. ``ray`` is the one shipped (``costspec[ray]``); a Dask executor is one more module with
the same three methods.
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Protocol

from costspec.errors import CostspecError


class ExecutorError(CostspecError):
    """A cluster that cannot be reached or used, or a task that failed on it."""


class Executor(Protocol):
    name: str

    def cpus(self) -> int:
        """CPUs the cluster offers (to size the tasks)."""

    def map(self, fn: Callable[[Any, Any], Any], payload: Any, tasks: list[Any]) -> Generator[tuple[int, Any], None, None]:
        """``fn(payload, task)`` for every task, yielding (task position, result) as they finish."""

    def close(self) -> None:
        """Release what the executor started (a local cluster it launched)."""


NAMES = ("ray",)


def get(name: str, *, address: str | None = None) -> Executor:
    if name == "ray":
        from costspec.executors.ray import RayExecutor

        return RayExecutor(address)
    raise ExecutorError(f"unknown executor {name!r}; the executors are: {', '.join(NAMES)}")

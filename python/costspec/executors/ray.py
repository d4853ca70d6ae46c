"""The Ray executor: the plan put once in the object store, one Ray task per range of points
(one CPU each; retried when its worker dies), results collected as they finish."""

from __future__ import annotations

from typing import Any, Callable, Generator

from costspec.executors import ExecutorError

EXTRA = "costspec[ray]"
MAX_RETRIES = 3  # a task whose worker died runs again (Ray's retry on system failures)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs the ray extra: pip install '{EXTRA}'") from None
    return ray


CONNECT_TIMEOUT_S = 5.0
CANCEL_WAIT_S = 30.0  # how long a failed run waits for its cancelled tasks to stop


def _reachable(address: str) -> None:
    """A cluster's address answers a TCP connection (host:port, or ray://host:port)."""
    import socket

    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ExecutorError(f"--address: got {address!r}, expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        why = e.strerror or ("timed out" if isinstance(e, TimeoutError) else type(e).__name__)
        raise ExecutorError(f"cannot reach Ray at {address}: {why}") from None


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        ray = _ray()
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            if address not in (None, "auto", "local"):
                _reachable(address)  # (Ray itself waits minutes on an address that never answers)
            import signal
            import threading

            main = threading.current_thread() is threading.main_thread()
            held = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level="ERROR", configure_logging=True)
            except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
                where = address or "a local cluster"
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ExecutorError(f"cannot start or reach Ray at {where}: {first[:200]}") from None
            finally:
                # (Ray installs its own handlers, which dump a stack on SIGTERM: the caller's stay,
                # so an interrupted sweep cleans up and says so in one line)
                for sig, handler in held.items():
                    if handler is not None:
                        signal.signal(sig, handler)
            self._started = True

    def cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map(self, fn: Callable[[Any, Any], Any], payload: Any, tasks: list[Any]) -> Generator[tuple[int, Any], None, None]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(fn)
        shared = ray.put(payload)  # (shipped once: every task reads the same object)
        pending = {remote.remote(shared, t): k for k, t in enumerate(tasks)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    k = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as e:
                        cause = e.cause if getattr(e, "cause", None) is not None else e
                        raise cause from None
                    except ray.exceptions.RayError as e:
                        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                        raise ExecutorError(f"task {k + 1} of {len(tasks)} failed on the cluster: {first[:200]}") from None
                    yield k, result
        finally:
            if pending:  # (an error or an interrupt: nothing left running into the output)
                for ref in pending:
                    ray.cancel(ref, force=True)
                ray.wait(list(pending), num_returns=len(pending), timeout=CANCEL_WAIT_S)

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()

"""Type stubs for costspec's native module (Rust, PyO3). Checked by mypy.stubtest."""

from typing import Any, Callable, final

__all__ = ["BLOCK", "ParquetPart", "Plan", "SweepError", "__version__", "arrow_schema", "categories", "footer_metadata", "goodput_defaults", "serve_defaults", "stage_layouts"]
__version__: str
BLOCK: int

class SweepError(ValueError):
    """args: (message, point index)."""

def categories() -> dict[str, list[str]]:
    """Names of each category input (convention, mode, ...) in the engine's index order."""

def goodput_defaults() -> dict[str, float]:
    """The goodput model's defaults (GPU MTBF hours, restart minutes, checkpoint bandwidth and bytes)."""

def serve_defaults() -> dict[str, float]:
    """The serving model's defaults (MBU, decode and prefill MFU, KV fraction, reserved GB, all-reduce latency)."""

def arrow_schema(columns: list[tuple[str, str, bool, str | None]], metadata: list[tuple[str, str]]) -> bytes:
    """The Arrow IPC schema message of a part's columns: (name, kind, nullable, unit or None)."""

def footer_metadata(footer: bytes) -> list[tuple[str, str | None]] | None:
    """The key-value metadata of a Parquet footer's bytes, or None when they are not one."""

def stage_layouts() -> dict[str, tuple[list[str], list[str]]]:
    """Register layouts of the cost-model stages a plan may use: {stage: (inputs, outputs)}."""

@final
class Plan:
    """A compiled sweep plan (the JSON that costspec.plan builds)."""

    def __new__(cls, json: str) -> Plan: ...
    @property
    def total(self) -> int: ...
    def evaluate(self, start: int, end: int, chunk: int, threads: int, buffers: list[Any]) -> list[tuple[int, int]]:
        """Evaluate points [start, end); region r's kept rows start at row r·chunk. Returns (row, count)s."""
    def top_k(
        self, k: int, key: int, maximise: bool, per: list[int], chunk: int, threads: int, start: int = 0,
        end: int = ...
    ) -> list[tuple[int, list[float]]]:
        """The k best points per group of output columns `per`, by output column `key`: (index, row) pairs."""
    def pareto(
        self, keys: list[tuple[int, bool]], per: list[int], chunk: int, threads: int, start: int = 0,
        end: int = ...
    ) -> list[tuple[int, list[float]]]:
        """The non-dominated points per group over output columns `keys` ((column, maximise)): (index, row) pairs."""
    def count(self, start: int, end: int, chunk: int, threads: int) -> int:
        """Evaluate points [start, end) without output; returns how many the filters keep."""

@final
class ParquetPart:
    """A Parquet part file being written (rust/parquet): row groups in, the file's bytes out."""

    def __new__(cls, columns: list[tuple[str, str, bool, list[str] | None]], metadata: list[tuple[str, str]],
                level: int = 1) -> ParquetPart: ...
    def row_group(self, buffers: list[Any], regions: list[tuple[int, int]]) -> bytes:
        """One row group from the engine's buffers: the rows of each (first row, count) region."""
    def write(
        self, plan: Plan, start: int, end: int, group_rows: int, emit: Callable[[bytes, int, int], None],
        cheapest: tuple[int, list[int], list[int], int] | None = None
    ) -> tuple[int, list[bytes], int]:
        """Evaluate [start, end) and encode it in row groups; returns (rows, best rows per column, count)."""
    def cancel(self) -> None:
        """Stop a running write at the engine's next block."""
    def finish(self) -> bytes:
        """The footer: the file's last bytes."""

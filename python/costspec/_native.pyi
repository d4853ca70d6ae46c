"""Type stubs for costspec's native module (Rust, PyO3). Checked by mypy.stubtest."""

from typing import Any, Mapping

__all__ = ["ModelError", "__version__", "estimate"]
__version__: str

class ModelError(ValueError):
    """args: (message, field or None)."""

def estimate(point: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate the cost model at one fully resolved point.

    Keys: params, active_params, tokens, architecture, convention, recompute, mode, lora_rank,
    lora_fraction, precision, peak_tflops, one of mfu / gpu_hours / wall_clock_days, gpus,
    usd_per_gpu_hour, watts, pue, grid_kg_per_kwh, gpu_memory_gb, optimizer, zero,
    tensor_parallel, pipeline_parallel, micro_batch.
    """

"""Calibration of the serving model (rust/model/serve.rs, issue 13) on TensorRT-LLM 0.17's published
throughput (benchmarks/data/serving_runs.yaml): the efficiency constants (MBU, decode and prefill
MFU, the memory reserved beside the weights and the cache) chosen by a grid search on the plain-
Python reference (tests/reference_serve.py), and the error of every row.

    python benchmarks/calibrate_serve.py [--fit]

Without --fit: the table at the constants below, which the engine ships as its defaults
(rust/model/serve.rs); each row's figure is costspec.serve()'s (the engine), checked against the
reference. Single-GPU rows also show the measured throughput over the bandwidth bound (decode at
the full HBM bandwidth at the batch the model serves, prefill aside).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import reference_serve as ref  # noqa: E402

import costspec  # noqa: E402

DATA = HERE / "data" / "serving_runs.yaml"
# The fit (python benchmarks/calibrate_serve.py --fit).
CONSTANTS = {"mbu": 0.6, "mfu_decode": 0.2, "mfu_prefill": 0.7, "reserved_gb": 2.0}
KV_FRACTION = 0.95  # (TensorRT-LLM's kv_cache_free_gpu_mem_fraction in these runs)


def served(row: dict[str, Any], k: dict[str, float]) -> ref.Served:
    cat = costspec.Catalog.builtin()
    m, g = cat.model(row["model"]), cat.gpu(row["gpu"])
    a = m.architecture
    assert g.bandwidth_tbps is not None and g.memory_gb is not None and g.scale_up_gb_per_s is not None
    prec = row["precision"]
    return ref.Served(
        params=m.params, active_params=m.active_params or m.params, layers=a["layers"], hidden=a["d_model"],
        heads=a["heads"], kv_heads=a.get("kv_heads", a["heads"]), head_dim=a.get("head_dim", a["d_model"] / a["heads"]),
        peak=g.peak_tflops[prec].value * 1e12, hbm=g.bandwidth_tbps.value * 1e12, memory=g.memory_gb.value * 1e9,
        scale_up=g.scale_up_gb_per_s.value * 1e9, tp=row["tp"], input_tokens=row["input"],
        output_tokens=row["output"], weights=prec, kv=prec, mbu=k["mbu"], mfu_decode=k["mfu_decode"],
        mfu_prefill=k["mfu_prefill"], kv_fraction=KV_FRACTION, reserved=k["reserved_gb"] * 1e9,
        all_reduce_latency=8e-6, tp_efficiency=k.get("tp_efficiency", 1.0))


def errors(rows: list[dict[str, Any]], k: dict[str, float]) -> list[float]:
    out = []
    for r in rows:
        try:
            got = ref.serve(served(r, k))["output_tokens_per_s"]
        except ValueError:
            got = 0.0  # (nothing fits: -100%)
        out.append(got / r["output_tokens_per_s"] - 1)
    return out


def summary(errs: list[float]) -> str:
    a = [abs(e) for e in errs]
    return f"median |error| {statistics.median(a):.1%}, max {max(a):.1%}"


def fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    grid = {"mbu": [0.5, 0.6, 0.7, 0.8, 0.9], "mfu_decode": [0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6],
            "mfu_prefill": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8], "reserved_gb": [0.0, 2.0, 4.0, 8.0],
            "tp_efficiency": [0.4, 0.55, 0.7, 0.85, 1.0]}
    best: tuple[float, dict[str, float]] | None = None
    for values in itertools.product(*grid.values()):
        k = dict(zip(grid, values))
        a = [abs(e) for e in errors(rows, k)]
        score = statistics.median(a) + max(a) / 3
        if best is None or score < best[0]:
            best = (score, k)
    assert best is not None
    return best[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="refit the constants on the calibration set")
    args = ap.parse_args(argv)
    data = YAML(typ="safe").load(DATA.read_text())
    rows = data["rows"]
    k = fit(rows) if args.fit else CONSTANTS
    if args.fit:
        print("fitted:", k)
    print("Calibration: TensorRT-LLM 0.17 (fitted on these rows).\n")
    table(rows, k)
    print("\nCheck: TensorRT-LLM 1.0 (PyTorch backend), not used by the fit.\n")
    table(data["check"], k)


def engine(r: dict[str, Any], k: dict[str, float]) -> Any:
    """The row served by costspec.serve() (the Rust engine) at the constants ``k``."""
    return costspec.serve(r["model"], gpu=r["gpu"], tensor_parallel=r["tp"], weights=r["precision"],
                          kv=r["precision"], input_tokens=r["input"], output_tokens=r["output"],
                          kv_fraction=KV_FRACTION, mbu=k["mbu"], mfu_decode=k["mfu_decode"],
                          mfu_prefill=k["mfu_prefill"], reserved_gb=k["reserved_gb"])


def bandwidth_bound(r: dict[str, Any], s: Any) -> float:
    """Decode tokens/s at the full HBM bandwidth at the batch served: batch / ((weights + batch ·
    context · KV per token) / bandwidth), the context being the average of a decoding sequence."""
    context = r["input"] + r["output"] / 2
    return float(s.batch * s.hbm_tbps * 1e12 / (s.weights_gb_per_gpu * 1e9 + s.batch * context * s.kv_bytes_per_token))


def table(rows: list[dict[str, Any]], k: dict[str, float]) -> None:
    print("| model | GPU | precision | TP | input / output | published tok/s | costspec | batch | error "
          "| measured / bandwidth bound |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r, err in zip(rows, errors(rows, k)):
        bound = "-"
        try:
            got = engine(r, k)
            want = ref.serve(served(r, k))["output_tokens_per_s"]
            assert abs(got.output_tokens_per_s / want - 1) < 1e-9, (r, got.output_tokens_per_s, want)
            shown = f"{got.output_tokens_per_s:,.0f} | {got.batch:,}"
            if r["tp"] == 1:
                bound = f"{r['output_tokens_per_s'] / bandwidth_bound(r, got):.2f}"
        except costspec.ModelInputError:
            shown = "does not fit | -"
        print(f"| {r['model']} | {r['gpu']} | {r['precision']} | {r['tp']} | {r['input']:,} / {r['output']:,} | "
              f"{r['output_tokens_per_s']:,.0f} | {shown} | {err:+.1%} | {bound} |")
    print(f"\n{summary(errors(rows, k))}")


if __name__ == "__main__":
    main()

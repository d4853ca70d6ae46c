"""Serving sweep benchmark (issue 13): points per second of serving sweeps in the engine, against
the same model vectorised in numpy as an expert would write it, answers compared.

(a) specs/serving.yaml as shipped (16,384 points), end to end through `costspec.sweep`.
(b) A 3.9M-point serving sweep (4 GPUs × 2 precisions × 4 TPs × 4,096 batches × 6 prompt × 5 answer
    lengths) keeping the cheapest output tokens per GPU within a 50 ms TPOT: the engine (2 threads,
    compile included) against numpy (one thread, broadcasting per GPU, every formula of
    rust/model/serve.rs that the answer needs, then a masked argmin per GPU).

Run: python benchmarks/serve_bench.py [--repeat N]   (needs numpy)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import costspec

ROOT = Path(__file__).resolve().parent.parent
BIG = """
costspec: 1
model: {preset: llama3.1-70b}
hardware: {}
serving: {}
sweep:
  zip:
    - hardware.gpu: [H100-SXM, H200, MI300X, B200]
      price.provider: [lambda, nebius, vultr, lambda]
    - serving.weights: [fp8, bf16]
      serving.kv: [fp8, bf16]
  grid:
    serving.tensor: [1, 2, 4, 8]
    serving.input_tokens: [128, 512, 1000, 2048, 4096, 8192]
    serving.output_tokens: [128, 256, 500, 1000, 2048]
    serving.batch: {range: [1, 4097, 1]}
where:
  - fits
  - tpot_s <= 0.05
output:
  keep: {top: 1, by: usd_per_m_output_tokens, per: [gpu]}
"""
# The engine's defaults (costspec._native.serve_defaults(); checked in main).
MBU, MFU_DECODE, KV_FRACTION, RESERVED, LATENCY = 0.6, 0.2, 0.9, 2e9, 8e-6


def numpy_expert(spec: Any) -> dict[str, tuple[float, Any]]:
    """The cheapest $/M output tokens per GPU within the bound, as numpy computes it (and the
    prices of every point, to check the engine's choice among equal prices: in the compute-bound
    regime TPOT / batch is constant, and the last bit of rounding picks among those points)."""
    cat = spec.catalog
    m = cat.model("llama3.1-70b")
    a = m.architecture
    n, layers, d, heads, kvh = m.params, a["layers"], a["d_model"], a["heads"], a["kv_heads"]
    q = d / heads
    # axes, broadcast as (precision, tp, input, output, batch)
    wbytes = np.array([1.0, 2.0]).reshape(2, 1, 1, 1, 1)  # fp8, bf16 (weights and KV alike)
    tp = np.array([1.0, 2.0, 4.0, 8.0]).reshape(1, 4, 1, 1, 1)
    s_in = np.array([128.0, 512, 1000, 2048, 4096, 8192]).reshape(1, 1, 6, 1, 1)
    s_out = np.array([128.0, 256, 500, 1000, 2048]).reshape(1, 1, 1, 5, 1)
    b = np.arange(1.0, 4097.0).reshape(1, 1, 1, 1, 4096)
    out: dict[str, tuple[float, Any]] = {}
    for gid, prov in zip(["H100-SXM", "H200", "MI300X", "B200"], ["lambda", "nebius", "vultr", "lambda"]):
        g = cat.gpu(gid)
        price = cat.price(prov, g).usd_per_gpu_hour
        assert g.memory_gb and g.bandwidth_tbps and g.scale_up_gb_per_s and g.scale_up_domain
        peak = np.array([g.peak_tflops["fp8"].value, g.peak_tflops["bf16"].value]).reshape(2, 1, 1, 1, 1) * 1e12
        hbm, mem, link = g.bandwidth_tbps.value * 1e12, g.memory_gb.value * 1e9, g.scale_up_gb_per_s.value * 1e9
        weights = n * wbytes / tp
        kv_gpu = 2 * layers * np.maximum(kvh / tp, 1) * q * wbytes
        context = s_in + s_out / 2
        max_batch = np.maximum(np.floor((mem - weights - RESERVED) * KV_FRACTION / (context * kv_gpu)), 0)
        ring = np.where(tp > 1, 2 * (tp - 1) / tp / link, 0.0)
        lat = np.where(tp > 1, LATENCY, 0.0)
        read = (weights + b * (context * kv_gpu)) / (hbm * MBU)
        flops = b * (2 * n + 4 * layers * context * heads * q)
        tpot = np.maximum(read, flops / (tp * peak * MFU_DECODE)) + 2 * layers * (2 * b * d * ring + lat)
        ok = (b <= max_batch) & (tpot <= 0.05) & (tp <= g.scale_up_domain.value)
        usd = np.where(ok, price * tp / 3600 * tpot / b * 1e6, np.inf)
        out[gid] = (float(usd.min()), usd)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    from costspec import _native

    k = _native.serve_defaults()
    assert (k["mbu"], k["mfu_decode"], k["kv_fraction"], k["reserved_gb"] * 1e9, k["all_reduce_latency_s"]) == \
        (MBU, MFU_DECODE, KV_FRACTION, RESERVED, LATENCY)
    shipped = ROOT / "specs" / "serving.yaml"
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        costspec.sweep(shipped)
        times.append(time.perf_counter() - t0)
    n = costspec.load(shipped).points
    print(f"(a) specs/serving.yaml, {n:,} points, costspec.sweep: min {min(times):.3f} s, median "
          f"{statistics.median(times):.3f} s ({n / min(times):,.0f} points/s)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(BIG)
        spec = costspec.load(path)
        n = spec.points
        engine, numpy_t = [], []
        for _ in range(args.repeat):  # (alternating pairs)
            t0 = time.perf_counter()
            table = costspec.sweep(path, threads=2)
            engine.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            want = numpy_expert(spec)
            numpy_t.append(time.perf_counter() - t0)
        rows = {r["gpu"]: r for r in table.to_pylist()}
        axes = ([1, 2, 4, 8], [128, 512, 1000, 2048, 4096, 8192], [128, 256, 500, 1000, 2048])
        for gid, (usd, every) in want.items():
            r = rows[gid]
            assert abs(r["usd_per_m_output_tokens"] / usd - 1) < 1e-9, (gid, r, usd)
            at = (["fp8", "bf16"].index(r["weights_precision"]), axes[0].index(r["serving_tensor_parallel"]),
                  axes[1].index(r["input_tokens"]), axes[2].index(r["output_tokens"]), r["batch"] - 1)
            assert abs(every[at] / usd - 1) < 1e-9, (gid, r, every[at], usd)  # (numpy's price there: the least)
        print(f"(b) {n:,} serving points, cheapest per GPU within a 50 ms TPOT (answers agree):")
        print(f"    costspec engine, 2 threads: min {min(engine):.3f} s, median {statistics.median(engine):.3f} s "
              f"({n / min(engine):,.0f} points/s)")
        print(f"    numpy (expert, 1 thread):   min {min(numpy_t):.3f} s, median {statistics.median(numpy_t):.3f} s "
              f"({n / min(numpy_t):,.0f} points/s)")
        print(f"    numpy / costspec: {min(numpy_t) / min(engine):.2f}× (min), "
              f"{statistics.median(numpy_t) / statistics.median(engine):.2f}× (median)")


if __name__ == "__main__":
    main()

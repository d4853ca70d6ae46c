"""Calibrate and check the step-time model (rust/model/step.rs) against published throughput.

    python benchmarks/calibrate_step.py          # the README table: costspec's predictions as shipped
    python benchmarks/calibrate_step.py --fit    # refit the constants on the calibration set only

The calibration set is Megatron-LM's Table 1 (Narayanan et al. 2021); the check set is other
published runs that state their layout and throughput (benchmarks/data/throughput_runs.yaml). The fit
never sees the check set. The table's predictions come from costspec itself (costspec.estimate), the
fit from the plain-Python reference of the same formulas (tests/reference_step.py), which the tests
hold equal to the engine.
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

import reference_step as ref  # noqa: E402

import costspec  # noqa: E402

DATA = HERE / "data" / "throughput_runs.yaml"
SEQ, VOCAB = 2048, 51200  # Megatron Table 1
# The settings Table 1 does not print (see the data file): one sequence per micro-batch.
MEGATRON = {"micro_batch": 1, "interleave": 1}


def load() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(DATA.read_text())
    return data


def inputs(row: dict[str, Any]) -> dict[str, Any]:
    """costspec.estimate() keywords of a row (a Table 1 row takes Megatron 2021's settings)."""
    h = row["d_model"]
    vocab = row.get("vocab", VOCAB)
    arch = {"layers": row["layers"], "d_model": h, "heads": row["heads"], "ffn_dim": row.get("ffn_dim", 4 * h),
            "vocab": vocab, "seq_len": row.get("seq_len", SEQ)}
    for k in ("kv_heads", "gated_mlp"):
        if k in row:
            arch[k] = row[k]
    extra = {"scale_out_gbps": row["scale_out_gbps"]} if "scale_out_gbps" in row else {}
    return dict(
        params=row.get("params", 12 * row["layers"] * h * h + vocab * h), architecture=arch,
        tokens="1B", gpu=row.get("gpu", "a100-80gb"), gpus=row["gpus"], tensor_parallel=row["tp"],
        pipeline_parallel=row["pp"], context_parallel=row.get("cp", 1),
        micro_batch=row.get("micro_batch", MEGATRON["micro_batch"]),
        interleave=row.get("interleave", MEGATRON["interleave"]),
        global_batch_tokens=row["batch"] * row.get("seq_len", SEQ), recompute=row.get("recompute", "full"),
        attention=row.get("attention", "eager"), sequence_parallel=row.get("sp", False), zero=row.get("zero", 0),
        precision=row.get("precision", "fp16" if "step_s" not in row and "tokens_per_s" not in row else "bf16"),
        convention="megatron", **extra,
    )


def predicted_tflops(row: dict[str, Any]) -> float:
    """costspec's TFLOP/s per GPU in Megatron's count (Eq. 3, the recomputed forward included)."""
    e = costspec.estimate(**inputs(row))
    assert e.hfu is not None and e.peak_tflops is not None, row["name"]
    return e.hfu * e.peak_tflops


def reference_tflops(row: dict[str, Any], k: dict[str, float]) -> float:
    """The same prediction from the plain-Python reference at constants ``k``."""
    L, h, a = row["layers"], row["d_model"], row["heads"]
    t, p, n, B = row["tp"], row["pp"], row["gpus"], row["batch"]
    b = row.get("micro_batch", MEGATRON["micro_batch"])
    v = row.get("interleave", MEGATRON["interleave"])
    # Eq. 3 per token (it is per iteration of B·s tokens), as the MFU numerator: the "MFU" is then
    # Megatron's TFLOP/s per GPU over the peak.
    hw_per_token = 96 * L * h * h * (1 + SEQ / (6 * h) + VOCAB / (16 * L * h))
    run = ref.Run(params=12 * L * h * h + VOCAB * h, arch={"layers": L, "d_model": h, "heads": a, "ffn_dim": 4 * h,
                                                          "vocab": VOCAB, "seq_len": SEQ},
                  gpus=n, peak=312e12, domain=8, scale_up=300e9, scale_out=25e9, hbm=2.039e12,
                  global_batch_tokens=B * SEQ, model_flops_per_token=hw_per_token, tp=t, pp=p, sp=False,
                  micro_batch=b, interleave=v, zero=0, recompute="full", attention="eager")
    return ref.step(run, k)["mfu"] * 312.0


def reference_step(row: dict[str, Any], k: dict[str, float]) -> float:
    """A check row's step time by the plain-Python reference at constants ``k`` (its model FLOPs,
    parameters, peaks and network as costspec reads them from the row and the catalog)."""
    kw = inputs(row)
    e = costspec.estimate(**kw)
    g = costspec.Catalog.builtin().gpu(kw["gpu"])
    assert e.peak_tflops is not None and g.bandwidth_tbps is not None and g.scale_up_domain is not None
    assert g.scale_up_gb_per_s is not None and g.scale_out_gbps is not None
    arch = dict(kw["architecture"])
    run = ref.Run(params=e.params, arch=arch, gpus=row["gpus"], peak=e.peak_tflops * 1e12,
                  domain=int(g.scale_up_domain.value), scale_up=g.scale_up_gb_per_s.value * 1e9,
                  scale_out=kw.get("scale_out_gbps", g.scale_out_gbps.value) * 1e9 / 8,
                  hbm=g.bandwidth_tbps.value * 1e12, global_batch_tokens=kw["global_batch_tokens"],
                  model_flops_per_token=e.model_flops_per_token, tp=row["tp"], pp=row["pp"], cp=row.get("cp", 1),
                  sp=kw["sequence_parallel"], micro_batch=kw["micro_batch"], interleave=kw["interleave"],
                  zero=int(kw["zero"]), recompute=kw["recompute"], attention=kw["attention"],
                  fp8=kw["precision"] == "fp8", peak16=g.peak_tflops["bf16"].value * 1e12)
    return ref.step(run, k)["step_time_s"]


def group(row: dict[str, Any]) -> str:
    """The check set's groups: the training stack (Megatron-LM and NeMo, or PyTorch FSDP) and precision."""
    pytorch = any(k in row.get("source", "") for k in ("llm-foundry", "torchtitan", "fms-fsdp"))
    stack = "PyTorch FSDP (llm-foundry, torchtitan, fms-fsdp)" if pytorch else "Megatron-LM, NeMo, DeepSpeed"
    return f"{stack}, {'fp8' if row.get('precision') == 'fp8' else '16-bit'}"


def fp8_pairs(check: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The check set's bf16/fp8 pairs: the same recipe and layout in both precisions."""
    partners = {r["name"].replace(", bf16 (partner)", ""): r for r in check if r["name"].endswith("(partner)")}
    return [(partners[r["name"].replace(", fp8", "")], r) for r in check
            if r.get("precision") == "fp8" and r["name"].replace(", fp8", "") in partners]


def fit_fp8(check: list[dict[str, Any]]) -> float:
    """FP8_GEMM_EFFICIENCY: for each bf16/fp8 pair, the factor at which the predicted fp8/bf16 step
    ratio is the published one (bisection: the ratio falls as the factor grows); their median."""
    fits = []
    for bf16, fp8 in fp8_pairs(check):
        want = fp8["step_s"] / bf16["step_s"]
        base = reference_step(bf16, ref.CONSTANTS)
        lo, hi = 0.2, 2.0
        for _ in range(60):
            mid = (lo + hi) / 2
            got = reference_step(fp8, {**ref.CONSTANTS, "fp8_gemm_efficiency": mid}) / base
            lo, hi = (mid, hi) if got > want else (lo, mid)
        print(f"  {fp8['name']}: published fp8/bf16 step {want:.3f}, factor {lo:.3f}")
        fits.append(lo)
    return statistics.median(fits)


def predicted_step(row: dict[str, Any]) -> float:
    """costspec's time of one optimizer step."""
    e = costspec.estimate(**inputs(row))
    assert e.step_time_s is not None, row["name"]
    return e.step_time_s


def errors(rows: list[dict[str, Any]], predict: Any) -> list[float]:
    return [predict(r) / r["tflops_per_gpu"] - 1 for r in rows]


def summary(errs: list[float]) -> str:
    a = [abs(e) for e in errs]
    return f"median |error| {statistics.median(a):.1%}, max {max(a):.1%}"


def fit(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Grid search on the calibration rows: minimise median |error| + max |error| / 3."""
    grid = {
        "gemm_efficiency": [x / 100 for x in range(50, 91, 2)],
        "gemm_half_size": [0.0, 32.0, 64.0, 128.0, 256.0],
        "elementwise_bytes": [0.0, 16.0, 32.0, 48.0, 64.0, 96.0, 128.0],
        "score_bytes": [0.0, 16.0, 32.0, 48.0, 64.0],
        "dp_overlap": [0.0, 0.5, 1.0],
    }
    best: tuple[float, dict[str, float]] | None = None
    for values in itertools.product(*grid.values()):
        k = dict(zip(grid, values))
        errs = errors(rows, lambda r: reference_tflops(r, k))
        a = [abs(e) for e in errs]
        score = statistics.median(a) + max(a) / 3
        if best is None or score < best[0]:
            best = (score, k)
    assert best is not None
    return best[1]


def table(rows: list[dict[str, Any]], predict: Any) -> list[str]:
    lines = ["| run | GPUs | TP | PP | DP | published TFLOP/s/GPU | costspec | error |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        got = predict(r)
        dp = r["gpus"] // (r["tp"] * r["pp"])
        lines.append(f"| {r['name']} | {r['gpus']:,} | {r['tp']} | {r['pp']} | {dp} | {r['tflops_per_gpu']:g} | "
                     f"{got:.1f} | {got / r['tflops_per_gpu'] - 1:+.1%} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="refit the constants on the calibration set")
    ap.add_argument("--fit-fp8", action="store_true", help="refit FP8_GEMM_EFFICIENCY on the bf16/fp8 pairs")
    args = ap.parse_args(argv)
    data = load()
    cal = data["calibration"]
    if args.fit_fp8:
        for bf16, fp8 in fp8_pairs(data["check"]):  # (the reference is the engine)
            for r in (bf16, fp8):
                assert abs(reference_step(r, ref.CONSTANTS) / predicted_step(r) - 1) < 1e-9, r["name"]
        print(f"fitted FP8_GEMM_EFFICIENCY: {fit_fp8(data['check']):.2f}")
        return
    if args.fit:
        k = fit(cal)
        print("fitted:", k)
        errs = errors(cal, lambda r: reference_tflops(r, k))
        for r, err in zip(cal, errs):
            print(f"  {r['name']}: {err:+.1%}")
        print("calibration with the fit:", summary(errs))
        return
    print("Calibration: Megatron-LM Table 1 (Narayanan et al. 2021), fitted on these rows.\n")
    print("\n".join(table(cal, predicted_tflops)))
    print(f"\n{summary(errors(cal, predicted_tflops))}")
    check = data["check"]
    print("\nCheck: published runs, not used by the fit (error: predicted throughput / published - 1).\n")
    print("| run | GPUs | TP·PP·CP (v), ZeRO | published | costspec | error |")
    print("|---|---|---|---|---|---|")
    errs = []
    groups: dict[str, list[float]] = {}
    fitted = {fp8["name"] for _, fp8 in fp8_pairs(check)}
    for r in check:
        layout = f"{r['tp']}·{r['pp']}·{r.get('cp', 1)}" + (f" ({r['interleave']})" if r.get("interleave", 1) > 1 else "")
        layout += f", {r.get('zero', 0)}"
        note = (" *" if r.get("assumed") else "") + (" †" if r["name"] in fitted else "")
        if "step_s" in r:
            got = predicted_step(r)
            err = r["step_s"] / got - 1
            shown = f"{r['step_s']:g} s | {got:.2f} s"
        else:  # (published throughput, all GPUs)
            e = costspec.estimate(**inputs(r))
            assert e.tokens_per_s is not None, r["name"]
            err = e.tokens_per_s / r["tokens_per_s"] - 1
            shown = f"{r['tokens_per_s']:,.0f} tok/s | {e.tokens_per_s:,.0f} tok/s"
        errs.append(err)
        groups.setdefault("the fp8 rows FP8_GEMM_EFFICIENCY is fitted on (†)" if r["name"] in fitted else group(r),
                          []).append(err)
        print(f"| {r['name']}{note} | {r['gpus']:,} | {layout} | {shown} | {err:+.1%} |")
    print()
    for name, es in groups.items():
        print(f"- {name}: {len(es)} runs, {summary(es)}")
    print(f"\nAll: {summary(errs)}; * settings the source does not print are assumed "
          "(benchmarks/data/throughput_runs.yaml); † the fp8 factor's fit")


if __name__ == "__main__":
    main()

"""One rules layer: `costspec validate` rejects exactly what `costspec sweep` and `estimate --spec`
would reject before evaluating. Hypothesis builds specs from parts, good and bad; whenever the
checks pass, compiling the plan and building the engine's program must succeed too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costspec.errors import CostspecError, SpecError
from costspec.plan import compile_spec
from costspec.runner import _native_plan
from costspec.spec import load_text, validate_text

def _set(path: str, value: Any) -> Any:
    def apply(d: dict[str, Any]) -> None:
        *head, last = path.split("/")
        node = d
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return apply


def _drop(path: str) -> Any:
    def apply(d: dict[str, Any]) -> None:
        *head, last = path.split("/")
        node = d
        for k in head:
            node = node.get(k, {})
        node.pop(last, None)
    return apply


# Changes to a valid spec, most of them valid too, some not: each alone, or a few together.
CHANGES = [
    _set("sweep/grid/ratio", [10, 20]), _set("training/tokens", "=ratio * model.params"),
    _set("sweep/grid/hardware.count", {"range": [8, 40, 8]}), _set("hardware/count", 64),
    _set("sweep/grid/hardware.gpu", ["h100", "a100"]), _set("sweep/grid/hardware.gpu", ["h100", "tpu-v5e"]),
    _set("sweep/grid/hardware.count", {"linspace": [8, 16], "num": 3}), _set("sweep/grid/hardware.mfu", [0.3, 0.5]),
    _set("derive/x", "model.params / 1e9"), _set("derive/x", "ratio * 2"), _set("derive/y", "x + 1"),
    _set("derive/x", "cost_usd"), _set("derive/x", "hardware.gpu * 1"),
    _set("where", ["wall_clock_days <= 90"]), _set("where", ["cost_usd < 1e7"]), _set("where", ["co2e_kg < 1e6"]),
    _set("where", ["energy_kwh > 0"]), _set("where", ["x > 0"]), _set("where", ["fits"]), _set("where", ["loss < 3"]),
    _set("output/columns", ["gpus", "cost_usd"]), _set("output/columns", ["params", "x"]),
    _set("output/columns", ["model", "provider"]), _set("output/keep", {"top": 1, "by": "cost_usd"}),
    _set("output/keep", {"top": 2, "by": "wall_clock_days", "per": ["gpu"]}),
    _set("output/keep", {"pareto": ["cost_usd", "gpu_hours"], "per": ["gpu"]}),
    _set("output/keep", {"top": 1, "by": "x"}),
    _set("energy/grid_kg_co2e_per_kwh", 0.385), _set("energy/pue", 1.1), _set("hardware/watts", 700),
    _drop("price/provider"), _set("price/provider", "vultr"), _drop("model/preset"), _set("model/params", "7B"),
    _set("model/preset", "mixtral-8x7b"), _set("training/convention", "palm"), _set("training/convention", "megatron"),
    _set("training/recompute", "selective"), _set("training/precision", "fp8"), _set("training/precision", "fp4"),
    _set("training/mode", "lora"), _set("training/lora_rank", 16), _set("parallelism/tensor", 8),
    _set("parallelism/tensor", 3), _set("parallelism/zero", 1), _drop("hardware/mfu"), _set("hardware/gpu_hours", 1e5),
    _set("solve", {"for": "hardware.count", "wall_clock_days": 30}),
    _set("solve", {"for": "training.tokens", "cost_usd": "1M"}),
    _set("scaling", {"fit": "besiroglu2024"}), _set("scaling", {"fit": "hoffmann2022", "compute_flops": 1e23}),
    _set("training/epochs", 2), _set("model/architecture", {"layers": 32, "d_model": 4096, "heads": 32, "seq_len": 2048}),
    # Without a GPU, or without a duration: FLOPs and memory only.
    _drop("hardware/gpu"), _drop("hardware"), _drop("price"), _set("solve", {"for": "training.tokens", "model_flops": 1e23}),
    _set("where", ["model_flops > 1e20"]), _set("output/columns", ["model_flops", "memory_gb_per_gpu"]),
    _set("scaling", {"fit": "hoffmann2022", "budget_usd": 1e6}), _set("sweep/grid/hardware.gpu_hours", [1e4, 1e5]),
    # The memory model's choices.
    _set("training/attention", "eager"), _set("training/base_weights", "nf4"), _set("training/logits", "chunked"),
    _set("parallelism/sequence", False), _set("sweep/grid/parallelism.sequence", [True, False]),
    _set("parallelism/context", 4), _set("parallelism/context", 3), _set("sweep/grid/parallelism.context", [1, 2]),
    _set("parallelism/expert", 2), _set("model/preset", "deepseek-v3"), _set("sweep/grid/parallelism.expert", [1, 8]),
    _set("sweep/grid/training.attention", ["flash", "eager"]), _set("sweep/grid/training.base_weights", ["bf16", "int8"]),
    _set("sweep/grid/training.mode", ["lora", "finetune"]),
    _set("sweep/grid/training.precision", ["bf16", "fp8"]), _set("sweep/grid/parallelism.tensor", [1, 2]),
]


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    d: dict[str, Any] = {"costspec": 1, "model": {"preset": "llama2-7b"}, "training": {"tokens": "1T"},
                         "hardware": {"gpu": "h100", "mfu": 0.4}, "price": {"provider": "lambda"}}
    for change in draw(st.lists(st.sampled_from(CHANGES), max_size=4)):
        change(d)
    return d


@given(spec=specs())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_validate_passes_exactly_when_the_plan_compiles(spec: dict[str, Any]) -> None:
    text = json.dumps(spec)
    problems = validate_text(text)
    if problems:
        with pytest.raises(SpecError):
            load_text(text)
        return
    plan = compile_spec(load_text(text))  # must not raise: validate found nothing
    try:
        _native_plan(plan)  # nor may the engine refuse to build it
    except CostspecError as e:
        raise AssertionError(f"validated, but the engine refused it: {e}\n{text}") from None

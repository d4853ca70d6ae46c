"""Evaluating a one-point spec: resolve its expressions, run the cost model, apply derive and where.

(Sweeps compile to plans and run in Rust; a single point goes through ``costspec.estimate``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from costspec import expr, scaling
from costspec import fields as columns
from costspec.errors import CostspecError, InputError, ModelInputError, SpecError
from costspec.estimator import Estimate, estimate
from costspec.solver import UNKNOWNS, Solution, SolveError, budget_flops, solve
from costspec.spec import FIELDS, PLANNING, Spec, Value

# Defaults the cost model applies, so that expressions may refer to fields a spec leaves out.
DEFAULTS: dict[str, Value] = {
    "training.mode": "pretrain", "training.precision": "bf16", "training.recompute": "none",
    "training.convention": "6nd", "training.optimizer": "adam", "training.micro_batch": 1.0,
    "energy.pue": 1.0, "parallelism.tensor": 1.0, "parallelism.pipeline": 1.0, "parallelism.zero": "3",
}
KWARG_TO_FIELD = {info.keyword: name for name, info in FIELDS.items()}


@dataclass(frozen=True)
class PointResult:
    estimate: Estimate
    derived: dict[str, Any]
    kept: bool | None  # None when the spec has no where
    planning: dict[str, Any] = field(default_factory=dict)  # loss, compute_flops, solved value (solve, scaling)
    solution: Solution | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.estimate.to_dict()
        d.update(self.planning)
        d.update(self.derived)
        if self.kept is not None:
            d["where"] = self.kept
        return d


def _located(spec: Spec, field: str | None, message: str) -> SpecError:
    name = KWARG_TO_FIELD.get(field or "", field or "")
    if name in spec.derive:
        return spec.document.error(("derive", name), message)
    path: tuple[Any, ...] = tuple(name.split(".")) if name in FIELDS else ("training", "convention")
    path = _path(spec, name) if name in FIELDS else path
    if path == ("training", "convention") and "training" not in (spec.document.data or {}):
        path = ("model",)
    return spec.document.error(path, message)


def _path(spec: Spec, name: str) -> tuple[Any, ...]:
    """Where a field is in the spec: its own key, its sweep axis, or its section."""
    return next((a.path for a in spec.sweep.axes if a.name == name), tuple(name.split(".")))


def inputs(spec: Spec) -> dict[str, Value]:
    """Every input of the single point, with expressions evaluated (dependencies in any order)."""
    if spec.points != 1:
        raise spec.document.error(("sweep",), f"this spec sweeps {spec.points:,} points; estimate takes one point",
                                  "a spec without a sweep (or with one value per axis)", key=True)
    values: dict[str, Value] = dict(spec.fields)
    for a in spec.sweep.axes:
        values[a.name] = a.value_at(0)
    preset = None
    if isinstance(values.get("model.preset"), str):
        preset = spec.catalog.model(str(values["model.preset"]))
    env: dict[str, Any] = {k: v for k, v in DEFAULTS.items()}
    if preset is not None:
        env["model.params"] = preset.params
        env["model.active_params"] = preset.active_params or preset.params
        env.update({f"model.architecture.{k}": v for k, v in preset.architecture.items()})
        if preset.training.get("tokens"):
            env["training.tokens"] = float(preset.training["tokens"])
    env.update({k: v for k, v in values.items() if not isinstance(v, expr.Expr)})
    pending = {k: v for k, v in values.items() if isinstance(v, expr.Expr)}
    pending.update(spec.derive)
    _implied(spec, values, env)
    while pending:
        progress = False
        for name, e in list(pending.items()):
            if all(n.name in env for n in e.names):
                try:
                    env[name] = e.evaluate(env)
                    _implied(spec, values, env)
                except expr.EvalError as err:  # the engine's rule and words (rust/engine.rs)
                    raise _located(spec, name, f"{err} in {name} = {e.text!r}") from None
                except (ArithmeticError, ValueError, TypeError) as err:
                    raise _located(spec, name, f"cannot evaluate {e.text!r}: {err}") from None
                if name in values:
                    values[name] = env[name]
                del pending[name]
                progress = True
        if not progress:
            name, e = next(iter(pending.items()))
            missing = [n.name for n in e.names if n.name not in env]
            raise _located(spec, name, f"cannot evaluate {e.text!r}: {', '.join(missing)} "
                                       f"{'is' if len(missing) == 1 else 'are'} not known at this point")
    return {**values, **{k: env[k] for k in spec.derive}}


def _implied(spec: Spec, values: dict[str, Value], env: dict[str, Any]) -> None:
    """Inputs the cost model takes from others when the spec leaves them out, as the sweep
    compiler does (plan.py, ``effective``): active params = params, tokens = dataset tokens ×
    epochs, watts = the GPU's TDP, the price = the provider's for the GPU."""
    if "model.params" in values and "model.active_params" not in values and "model.params" in env:
        env["model.active_params"] = env["model.params"]
    if "training.dataset_tokens" in env and "training.tokens" not in values:
        epochs = env.get("training.epochs", 1.0)
        if isinstance(env["training.dataset_tokens"], float) and isinstance(epochs, (int, float)):
            env["training.tokens"] = env["training.dataset_tokens"] * float(epochs)
    gpu = values.get("hardware.gpu")
    if isinstance(gpu, str):
        g = spec.catalog.gpu(gpu)
        if "hardware.watts" not in values and g.tdp_w is not None:
            env.setdefault("hardware.watts", g.tdp_w.value)
        provider = values.get("price.provider")
        if "price.usd_per_gpu_hour" not in values and isinstance(provider, str):
            env.setdefault("price.usd_per_gpu_hour", spec.catalog.price(provider, g).usd_per_gpu_hour)


def evaluate(spec: Spec) -> PointResult:
    """Run the cost model on a one-point spec. Raises SpecError located at the offending field."""
    values = inputs(spec)
    kwargs: dict[str, Any] = {}
    arch: dict[str, Any] = {}
    for name, v in values.items():
        info = FIELDS.get(name)
        if info is None or name in PLANNING:
            continue
        if info.keyword.startswith("architecture."):
            arch[info.keyword.split(".", 1)[1]] = v == "true" if name.endswith("gated_mlp") else v
        else:
            kwargs[info.keyword] = v
    planning: dict[str, Any] = {}
    solution = None
    try:
        fit = values.get("scaling.fit")
        flops = values.get("scaling.compute_flops")
        if values.get("scaling.budget_usd") is not None:  # what the budget buys at this GPU, MFU and price
            flops, _ = budget_flops(float(values["scaling.budget_usd"]),  # type: ignore[arg-type]
                                    **kwargs, architecture=arch, catalog=spec.catalog)
        if flops is not None:
            ratio = values.get("scaling.tokens_per_param")
            try:
                n, d = scaling.optimal(str(fit), float(flops),  # type: ignore[arg-type]
                                       float(ratio) if isinstance(ratio, (int, float)) else scaling.TOKENS_PER_PARAM)
            except InputError as e:  # located at the budget (or the ratio) that has no valid split
                name = "scaling.budget_usd" if values.get("scaling.budget_usd") is not None else "scaling.compute_flops"
                name = "scaling.tokens_per_param" if e.field == "tokens_per_param" else name
                raise spec.document.error(_path(spec, name), f"got {e.given}, expected {e.accepted}") from None
            kwargs.update(params=n, tokens=d)
            planning["compute_flops"] = float(flops)  # type: ignore[arg-type]
        unknown = values.get("solve.for")
        if unknown is not None:
            short = next(k for k, v in UNKNOWNS.items() if v == unknown)
            targets = {k.split(".", 1)[1]: v for k, v in values.items()
                       if k.startswith("solve.") and k != "solve.for" and v is not None}
            solution = solve(short, targets, **kwargs, architecture=arch, catalog=spec.catalog)  # type: ignore[arg-type]
            result = solution.estimate
        else:
            result = estimate(**kwargs, architecture=arch, catalog=spec.catalog)
        if fit in scaling.FITS:
            planning["loss"] = scaling.FITS[str(fit)].loss(result.params, result.tokens)
    except SpecError:
        raise
    except SolveError as e:
        raise spec.document.error(_path(spec, e.field), str(e)) from None
    except (InputError, ModelInputError) as e:
        raise _located(spec, e.field, str(e)) from None
    except CostspecError as e:
        raise _located(spec, None, str(e)) from None
    derived = {k: values[k] for k in spec.derive}
    kept = None
    if spec.where:
        env: dict[str, Any] = dict(values)
        row = result.to_dict()
        env.update({k: row[k] for k in columns.NAMES if k in row})
        env.update(planning)
        for i, cond in enumerate(spec.where):
            path = ("where", i)
            missing = [n.name for n in cond.names if env.get(n.name) is None]
            if missing:
                raise spec.document.error(path, f"cannot evaluate {cond.text!r}: {', '.join(missing)} "
                                          "has no value at this point (no price, power or GPU count given?)")
            try:
                ok = bool(cond.evaluate(env))
            except expr.EvalError as err:  # the engine's rule and words
                raise spec.document.error(path, f"{err} in where[{i}] = {cond.text!r}") from None
            except (ArithmeticError, ValueError, TypeError) as err:
                raise spec.document.error(path, f"cannot evaluate {cond.text!r}: {err}") from None
            if not ok:
                kept = False
                break
        else:
            kept = True
    return PointResult(result, derived, kept, planning, solution)

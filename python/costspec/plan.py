"""Compiling a spec into a plan: axes as typed arrays, catalog attributes as lookup tables,
expressions and cost-model stages as operations on registers, and the output columns.

The plan never materialises the product: the Rust engine (``costspec._native.Plan``) decodes
point ``i`` by mixed radix over the axes (the first axis varies slowest) and computes each
quantity at the loop level of the axes it depends on. ``Plan.json`` is exactly what it receives.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass, field
from typing import Any

from costspec import fields as colinfo
from costspec import fields as registry
from costspec import expr, outputs, scaling
from costspec.catalog import Catalog, Gpu, ModelPreset
from costspec.fields import PRECISIONS
from costspec.errors import CostspecError, SpecError, UnknownNameError, printable
from costspec.spec import DURATION, FIELDS, Axis, Spec

ARCH = registry.ARCHITECTURE


def _engine_orders() -> dict[str, tuple[str, ...]]:
    """Category orders as the Rust engine decodes them (its own export, not a copy)."""
    from costspec import _native

    by_input = _native.categories()
    return {f.path: tuple(by_input[f.key]) if f.key in by_input else f.choices
            for f in registry.INPUTS if f.key in by_input or (f.kind == "choice" and f.path in PYTHON_CHOICES)}


# Choices the compiler resolves itself (table lookups), which the engine never decodes.
PYTHON_CHOICES = ("hardware.power_basis", "parallelism.layout", "serving.activations")


# Category orders: the engine decodes these indices; the registry's choices are the same names
# (tests/test_fields.py), which validation uses without loading the engine.
CHOICES: dict[str, tuple[str, ...]] = _engine_orders()
def _goodput_defaults() -> dict[str, float]:
    from costspec import _native

    return dict(_native.goodput_defaults())


GOODPUT = _goodput_defaults()
GOODPUT_STALLS = ("gpus: expected a job that makes progress between interruptions: its checkpoint or restart takes "
                  "longer than it runs between them (modelled goodput below 1e-12); give a goodput, or a faster "
                  "checkpoint (checkpoint_gb_per_s), a shorter restart (restart_minutes) or a rarer interruption "
                  "(gpu_mtbf_hours)")
GOODPUT_OVERFLOW = "goodput: a ratio that keeps the GPU-hours within the float range (±1.8e308)"
GOODPUT_ABOVE_PEAK = ("{field}: expected a duration whose steps, after the time lost to interruptions (the modelled "
                      "ETTR), run at an MFU of at most 1; give a goodput (1: none), or check the duration")
# The global batch when neither given nor published: B = 0.2920·C^0.3271 tokens for a compute budget of
# C FLOPs (Bi et al. 2024, DeepSeek LLM, §3.1).
BATCH_RULE = (0.2920, 0.3271)
# Categorical outputs that are no input's: their names in the engine's order.
OUTPUT_CHOICES: dict[str, tuple[str, ...]] = {"memory_basis": registry.MEMORY_BASES}
DEFAULTS = {p: v for p, v in registry.DEFAULTS.items() if p in CHOICES}
# Column name of each categorical input.
CATEGORY_COLUMN = registry.CATEGORY_COLUMN
_BIN = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_CMP = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
_UN_FN = {"log": "log", "exp": "exp", "sqrt": "sqrt", "ceil": "ceil", "floor": "floor"}


@dataclass(frozen=True)
class OutputColumn:
    name: str
    kind: str  # "f64", "i64" (whole numbers), "i32" (dictionary index) or "bool"
    reg: int
    dictionary: tuple[str, ...] = ()
    nullable: bool = False  # NaN stands for "no value" and is written as null
    unit: str = ""


@dataclass
class Plan:
    """A compiled sweep: what the engine evaluates and how to read its output."""

    spec: Spec
    axes: list[tuple[tuple[str, ...], int]]  # (names of the axis' columns, length), outermost first
    json: dict[str, Any]
    columns: list[OutputColumn]
    axis_values: list[dict[str, Axis]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return math.prod(n for _, n in self.axes) if self.axes else 1

    def to_json(self) -> str:
        return json.dumps(self.json, separators=(",", ":"), allow_nan=False)

    def decode(self, index: int) -> dict[str, Any]:
        """The swept values at point ``index``."""
        out: dict[str, Any] = {}
        for (names, n), axes in zip(reversed(self.axes), reversed(self.axis_values)):
            i = index % n
            index //= n
            for name in names:
                out[name] = _shown(name, axes[name].value_at(i), self.spec.catalog)
        return dict(reversed(list(out.items())))

    @property
    def searches(self) -> bool:
        """Whether each point searches layouts (hundreds of step evaluations: split the sweep finer)."""
        return any(op.get("k") == "model" and op.get("stage") == "search" for op in self.json.get("ops", ()))

    def bytes_per_row(self) -> float:
        return sum(8 if c.kind in ("f64", "i64") else (4 if c.kind == "i32" else 0.125) for c in self.columns)


class _Compiler:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.cat: Catalog = spec.catalog
        self.nreg = 0
        self.consts: dict[float, int] = {}
        self.const_list: list[tuple[int, float]] = []
        self.ops: list[dict[str, Any]] = []
        self.tables: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self.message_index: dict[str, int] = {}
        self.regs: dict[str, int] = {}  # input / variable / derived / column name -> register
        self.dicts: dict[str, tuple[str, ...]] = {}
        self.axes_json: list[dict[str, Any]] = []
        self.axes: list[tuple[tuple[str, ...], int]] = []
        self.axis_values: list[dict[str, Axis]] = []
        self.pending: dict[str, tuple[expr.Expr, tuple[Any, ...]]] = {}
        self.active: set[str] = set()
        self.presets: list[ModelPreset] = []
        self.solve_targets: list[tuple[str, int]] = []  # (column, register of its bound)
        self.solved_states: dict[str, int] | None = None  # memory states, when solving for the GPU count
        self.checks: list[int] = []  # filters dropping points whose solved value misses a target
        # (target, the transformed unknown t that meets it exactly, the target at the first trial, its slope)
        self.bounds: list[tuple[str, int, int, int]] = []
        self.unrounded: int | None = None  # the solved unknown before rounding and clamping
        self.states: dict[str, int] = {}  # the memory states (bytes), per point
        self.searched: dict[str, int] = {}  # the layout search's answer, by column (layout: auto)
        self.search_found = -1
        self.gpus: list[Gpu] = []
        self.serve_out: dict[str, int] = {}  # the serving stage's outputs (serving specs)
        self.layouts: dict[str, tuple[list[str], list[str]]] = {}
        self.common: dict[str, int] = {}

    # -- registers ----------------------------------------------------------------------------
    def new(self) -> int:
        self.nreg += 1
        return self.nreg - 1

    def const(self, v: float) -> int:
        key = float(v)
        if key != key:  # NaN: one register for all
            key = float("nan")
            for k, r in self.consts.items():
                if k != k:
                    return r
        if key in self.consts:
            return self.consts[key]
        r = self.new()
        self.consts[key] = r
        self.const_list.append((r, key))
        return r

    def op(self, **kw: Any) -> None:
        self.ops.append(kw)

    def un(self, op: str, a: int, msg: str | None = None) -> int:
        o = self.new()
        self.ops.append(self.checked({"k": "un", "op": op, "a": a, "o": o}, msg))
        return o

    def bin(self, op: str, a: int, b: int, msg: str | None = None) -> int:
        o = self.new()
        self.ops.append(self.checked({"k": "bin", "op": op, "a": a, "b": b, "o": o}, msg))
        return o

    def check(self, a: int, lo: float, msg: str) -> int:
        """``a``, with an error at the points where it is below ``lo`` (``msg`` says why)."""
        o = self.new()
        self.ops.append(self.checked({"k": "check", "a": a, "o": o, "lo": lo}, msg))
        return o

    def checked(self, op: dict[str, Any], msg: str | None) -> dict[str, Any]:
        """An op of the user's expression ``msg``: the engine reports a non-finite result from
        operands with values as an error at that point (costspec.expr.arith states the rule)."""
        if msg is not None:
            if msg not in self.message_index:
                self.message_index[msg] = len(self.messages)
                self.messages.append(msg)
            op["msg"] = self.message_index[msg]
        return op

    def error(self, path: tuple[Any, ...], message: str) -> SpecError:
        return self.spec.document.error(path, message)

    # -- axes -----------------------------------------------------------------------------------
    def encode(self, name: str, values: list[Any]) -> list[float]:
        """Axis values as numbers: choices and names become category indices."""
        if name in CHOICES:
            order = CHOICES[name]
            self.dicts[name] = order
            return [float(order.index(str(v).lower())) for v in values]
        if name == "parallelism.zero":
            return [3.0 if str(v).lower() == "fsdp" else float(v) for v in values]
        if FIELDS[name].kind == "flag" if name in FIELDS else False:  # flags: 1 or 0
            return [1.0 if str(v).lower() in ("true", "1") else 0.0 for v in values]
        if name in ("model.preset", "hardware.gpu", "price.provider"):
            resolved = [str(self.resolve_name(name, v)) for v in values]
            names = list(dict.fromkeys(resolved))
            self.dicts[name] = tuple(names)
            return [float(names.index(v)) for v in resolved]
        return [float(v) for v in values]

    def add_axes(self) -> None:
        groups: list[tuple[Axis, ...]] = list(self.spec.sweep.zip) + [(a,) for a in self.spec.sweep.grid]
        for group in groups:
            n = len(group[0])
            cols: list[dict[str, Any]] = []
            names: list[str] = []
            by_name: dict[str, Axis] = {}
            for a in group:
                r = self.new()
                self.regs[a.name] = r
                names.append(a.name)
                by_name[a.name] = a
                if a.kind != "values":  # generated numbers: the engine generates them too
                    gen = {"kind": a.kind, "start": a.start, "stop": a.stop, "step": a.step, "num": len(a)}
                    cols.append({"reg": r, "gen": gen})
                    if a.name == "hardware.count" and len(a) <= 1_000_000:  # (the count's goodput factor)
                        cols.extend(self.catalog_columns(a.name, list(a.materialise())))
                    continue
                vals = list(a.values)
                if any(isinstance(v, expr.Expr) for v in vals):
                    raise self.error(("sweep",), f"{a.name}: sweep values must be plain values, not expressions")
                cols.append({"reg": r, "values": self.encode(a.name, vals)})
                cols.extend(self.catalog_columns(a.name, vals))
            self.axes_json.append({"len": n, "columns": cols})
            self.axes.append((tuple(names), n))
            self.axis_values.append(by_name)

    def resolve_name(self, name: str, v: Any) -> Any:
        if name == "model.preset":
            return self.cat.model(str(v)).id
        if name == "hardware.gpu":
            return self.cat.gpu(str(v)).id
        if name == "price.provider":  # one spelling per provider: 'Lambda' and 'lambda' are one group
            return self.cat.provider_name(str(v))
        return v

    def catalog_columns(self, name: str, vals: list[Any]) -> list[dict[str, Any]]:
        """Attributes of catalog entries along an axis (a preset's params, a GPU's memory...)."""
        out: list[dict[str, Any]] = []

        def column(key: str, values: list[float]) -> None:
            r = self.new()
            self.regs[key] = r
            out.append({"reg": r, "values": values})

        if name == "model.preset":
            ms = [self.cat.model(str(v)) for v in vals]
            self.presets = ms
            column("preset:params", [m.params for m in ms])
            column("preset:active_params", [m.active_params or m.params for m in ms])
            column("preset:tokens", [float(m.training.get("tokens") or math.nan) for m in ms])
            column("preset:global_batch_tokens", [float(m.training.get("global_batch_tokens") or math.nan) for m in ms])
            for a in registry.MODEL_ARCHITECTURE:
                column(f"preset:{a}", [float(m.architecture.get(a, math.nan)) for m in ms])
            column("preset:gated_mlp", [1.0 if m.architecture.get("gated_mlp") else 0.0 for m in ms])
            column("preset:dropout", [0.0 if m.training.get("dropout") is False else 1.0 for m in ms])
        elif name == "hardware.count" and all(isinstance(v, (int, float)) for v in vals):
            # The count's factor of the default goodput, e^{−R·N/(3600·gpu_mtbf_hours)} (rust/model/goodput.rs).
            k = GOODPUT["restart_minutes"] * 60.0 / (3600.0 * GOODPUT["gpu_mtbf_hours"])
            column("count:decay", [math.exp(-k * float(v)) for v in vals])
        elif name == "hardware.gpu":
            gs = [self.cat.gpu(str(v)) for v in vals]
            self.gpus = gs
            # Training judges what fits on the memory the device reports; serving's fitted constants
            # (reserved_gb, mbu) were fitted on the datasheet's, which it keeps.
            column("gpu:memory", [g.device_memory.value if g.device_memory else math.nan for g in gs])
            column("gpu:datasheet_memory", [g.memory_gb.value if g.memory_gb else math.nan for g in gs])
            column("gpu:tdp", [g.tdp_w.value if g.tdp_w else math.nan for g in gs])
            column("gpu:system_power", [g.system_power_w.value if g.system_power_w else math.nan for g in gs])
            for attr in ("scale_up_domain", "scale_up_gb_per_s", "scale_out_gbps", "bandwidth_tbps"):
                column(f"gpu:{attr}", [f.value if (f := getattr(g, attr)) is not None else math.nan for g in gs])
            for p in PRECISIONS:
                column(f"gpu:peak.{p}", [g.peak_tflops[p].value if p in g.peak_tflops else math.nan for g in gs])
        return out

    def fixed_inputs(self) -> None:
        """Fields set to plain values become constants (catalog names expand like an axis)."""
        for name, v in self.spec.fields.items():
            if isinstance(v, expr.Expr) or name in self.regs or name in ("solve.for", "scaling.fit"):
                continue
            (code,) = self.encode(name, [v])
            self.regs[name] = self.const(code)
            for c in self.catalog_columns(name, [v]):
                self.consts_from_column(c)

    def consts_from_column(self, c: dict[str, Any]) -> None:
        r, v = c["reg"], c["values"][0]
        self.const_list.append((r, float(v)))

    # -- expressions ----------------------------------------------------------------------------
    def name_reg(self, name: str, path: tuple[Any, ...]) -> int:
        if name in self.regs:
            return self.regs[name]
        if name in self.pending:
            if name in self.active:
                raise self.error(path, f"{name} depends on itself")
            # The expressions it depends on first, in dependency order (found without recursion: a
            # chain of thousands of derived names is no RecursionError), then itself.
            for dep in self.dependency_order(name, path):
                e, epath = self.pending[dep]
                self.active.add(dep)
                r = self.compile(e, epath, dep)
                self.active.discard(dep)
                self.regs[dep] = r
                del self.pending[dep]
            return self.regs[name]
        if name in FIELDS:
            return self.effective(name, path)
        raise self.error(path, f"{name!r} has no value at this point of the plan")

    def dependency_order(self, name: str, path: tuple[Any, ...]) -> list[str]:
        """The pending expressions ``name`` needs, each after those it needs, ``name`` last."""
        order: list[str] = []
        done: set[str] = set()
        stack: list[tuple[str, bool]] = [(name, False)]
        on_path: set[str] = set()
        while stack:
            n, expanded = stack.pop()
            if expanded:
                on_path.discard(n)
                if n not in done:
                    done.add(n)
                    order.append(n)
                continue
            if n in done:
                continue
            if n in on_path or n in self.active:
                raise self.error(path, f"{n} depends on itself")
            on_path.add(n)
            stack.append((n, True))
            for dep in reversed([d.name for d in self.pending[n][0].names]):
                if dep in self.pending and dep not in self.regs and dep not in done:
                    stack.append((dep, False))
        return order

    def compile(self, e: expr.Expr, path: tuple[Any, ...], label: str) -> int:
        msg = f"{label} = {e.text!r}"

        def go(node: ast.AST) -> int:
            if isinstance(node, ast.Constant):
                return self.const(float(node.value))  # type: ignore[arg-type]  # numbers and booleans only
            if isinstance(node, (ast.Name, ast.Attribute)):
                name = expr.dotted_name(node)
                if name in ("true", "True"):
                    return self.const(1.0)
                if name in ("false", "False"):
                    return self.const(0.0)
                return self.name_reg(name or "", path)
            if isinstance(node, ast.BinOp):
                a, b = go(node.left), go(node.right)
                return self.bin(_BIN[type(node.op)], a, b, msg)
            if isinstance(node, ast.UnaryOp):
                a = go(node.operand)
                if isinstance(node.op, ast.UAdd):
                    return a
                return self.un("neg" if isinstance(node.op, ast.USub) else "not", a)
            if isinstance(node, ast.BoolOp):
                regs = [go(v) for v in node.values]
                acc = regs[0]
                for r in regs[1:]:
                    acc = self.bin("and" if isinstance(node.op, ast.And) else "or", acc, r)
                if len(regs) == 1:
                    acc = self.bin("ne", acc, self.const(0.0))
                return acc
            if isinstance(node, ast.Compare):
                left = go(node.left)
                acc = -1
                for cmp, comp in zip(node.ops, node.comparators):
                    right = go(comp)
                    c = self.bin(_CMP[type(cmp)], left, right)
                    acc = c if acc < 0 else self.bin("and", acc, c)
                    left = right
                return acc
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                args = [go(a) for a in node.args]
                fname = node.func.id
                if fname in ("min", "max"):
                    acc = args[0]
                    for r in args[1:]:
                        acc = self.bin(fname, acc, r, msg)
                    return acc
                return self.un(_UN_FN[fname], args[0], msg if fname in ("log", "exp", "sqrt") else None)
            raise self.error(path, f"cannot compile {ast.dump(node)}")

        return go(e.tree)

    # -- the cost model -------------------------------------------------------------------------
    def field_reg(self, name: str) -> int | None:
        """The register of a field given in the spec (set, swept or an expression), if any."""
        if name in self.regs:
            return self.regs[name]
        if name in self.pending:
            return self.name_reg(name, self.pending[name][1])
        return None

    def effective(self, name: str, path: tuple[Any, ...] = ()) -> int:
        """A field's value as the cost model sees it: given, else from the preset, else default."""
        key = f"effective:{name}"
        if key in self.regs:
            return self.regs[key]
        r = self.field_reg(name)
        if r is None:
            if name == "model.params":
                r = self.regs.get("preset:params")
            elif name == "model.active_params":
                given = self.field_reg("model.params")
                r = given if given is not None else self.regs.get("preset:active_params")
            elif name.startswith("model.architecture."):
                r = self.regs.get(f"preset:{name.rsplit('.', 1)[1]}")
            elif name == "training.tokens":
                ds = self.field_reg("training.dataset_tokens")
                if ds is not None:
                    ep = self.field_reg("training.epochs")
                    r = ds if ep is None else self.bin("mul", ds, ep)
                else:
                    r = self.regs.get("preset:tokens")
            elif name == "training.dropout":  # the preset's, else on (Korthikanti et al. 2022 count it)
                r = self.regs.get("preset:dropout", self.const(1.0))
            elif FIELDS[name].kind == "flag":  # (gated_mlp: from the preset above)
                r = self.const(1.0 if registry.DEFAULTS.get(name) == "true" else 0.0)
            elif name in DEFAULTS:
                r = self.const(float(CHOICES[name].index(DEFAULTS[name])))
            elif name == "hardware.watts":
                r = self.catalog_watts_reg()
            elif name == "energy.pue":
                r = self.const(1.0)
            elif name == "parallelism.zero":
                r = self.const(3.0)
            elif name in ("hardware.scale_up_domain", "hardware.scale_up_gb_per_s", "hardware.scale_out_gbps"):
                r = self.regs.get(f"gpu:{name.split('.')[1]}")
            elif name in ("parallelism.tensor", "parallelism.pipeline", "parallelism.context", "parallelism.expert",
                          "parallelism.interleave", "training.micro_batch"):
                r = self.const(1.0)
            elif name == "price.usd_per_gpu_hour":
                r = self.price_reg()
            elif FIELDS[name].kind == "number" and FIELDS[name].default is not None:  # (the serving knobs)
                r = self.const(float(FIELDS[name].default))
            if r is None:
                r = self.const(math.nan)
        self.regs[key] = r
        return r

    def price_reg(self) -> int | None:
        provider = self.field_reg("price.provider")
        if provider is None:
            return None
        providers = self.dicts.get("price.provider", ())
        gpus = self.dicts.get("hardware.gpu", ())
        table = []
        for prov in providers:
            for gid in gpus:
                try:
                    table.append(self.cat.price(prov, self.cat.gpu(gid)).usd_per_gpu_hour)
                except UnknownNameError:
                    table.append(math.nan)
        self.tables.append({"cols": len(gpus), "values": table})
        o = self.new()
        self.op(k="lut", t=len(self.tables) - 1, a=provider, b=self.regs["hardware.gpu"], o=o)
        return o

    def catalog_watts_reg(self) -> int | None:
        """The catalog's power per GPU on the power basis: a GPU attribute at a fixed basis, else a
        (basis, GPU) lookup."""
        basis = self.spec.fields.get("hardware.power_basis", "chip")
        if "hardware.gpu" not in self.regs:
            return None
        if "hardware.power_basis" not in self.regs or "hardware.power_basis" in self.spec.fields:
            return self.regs.get("gpu:system_power" if str(basis).lower() == "system" else "gpu:tdp")
        gpus = [self.cat.gpu(g) for g in self.dicts["hardware.gpu"]]
        table = [f.value if (f := outputs.power_figure(g, b)) is not None else math.nan
                 for b in CHOICES["hardware.power_basis"] for g in gpus]
        self.tables.append({"cols": len(gpus), "values": table})
        o = self.new()
        self.op(k="lut", t=len(self.tables) - 1, a=self.regs["hardware.power_basis"], b=self.regs["hardware.gpu"],
                o=o)
        return o

    def peak_reg(self) -> int:
        """The dense peak: a GPU attribute at a fixed precision, else a (GPU, precision) lookup."""
        prec = self.spec.fields.get("training.precision", "bf16")
        if "training.precision" not in self.regs or isinstance(prec, str) and "training.precision" in self.spec.fields:
            return self.regs[f"gpu:peak.{prec}"]
        gpus = [self.cat.gpu(g) for g in self.dicts["hardware.gpu"]]
        order = CHOICES["training.precision"]  # (the engine's index order)
        table = [g.peak_tflops[p].value if p in g.peak_tflops else math.nan for g in gpus for p in order]
        self.tables.append({"cols": len(order), "values": table})
        o = self.new()
        self.op(k="lut", t=len(self.tables) - 1, a=self.regs["hardware.gpu"], b=self.regs["training.precision"], o=o)
        return o

    def stage(self, name: str, layout: tuple[list[str], list[str]], inputs: dict[str, int],
              **extra: Any) -> dict[str, int]:
        ins, outs = layout
        o = {k: self.new() for k in outs}
        self.op(k="model", stage=name, i=[inputs[k] for k in ins], o=[o[k] for k in outs], **extra)
        return o

    def peak16(self) -> int:
        """The GPU's 16-bit dense peak (bf16, else fp16): an 8-bit run's attention core and logits."""
        if "peak16" not in self.regs:
            nan = self.const(math.nan)
            self.regs["peak16"] = self.bin("coalesce", self.regs.get("gpu:peak.bf16", nan),
                                           self.regs.get("gpu:peak.fp16", nan))
        return self.regs["peak16"]

    def peak(self) -> int:
        if "peak" not in self.regs:
            self.regs["peak"] = self.peak_reg()
        return self.regs["peak"]

    def compute(self, layouts: dict[str, tuple[list[str], list[str]]], ov: dict[str, int]) -> dict[str, int]:
        """The FLOPs, time, wall-clock and money stages, with some inputs overridden (``ov``: field
        name -> register): the solver evaluates them at trial values of its unknown."""
        def e(name: str) -> int:
            return ov[name] if name in ov else self.effective(name)

        arch = {a: e(f"model.architecture.{a}") for a in ARCH}
        gated = self.field_reg("model.architecture.gated_mlp")
        common = {
            "params": e("model.params"), "active_params": e("model.active_params"), "tokens": e("training.tokens"),
            **arch, "gated_mlp": gated if gated is not None else self.regs.get("preset:gated_mlp", self.const(0.0)),
            "convention": e("training.convention"), "mode": e("training.mode"),
            "recompute": e("training.recompute"), "lora_rank": e("training.lora_rank"),
            "lora_fraction": e("training.lora_fraction"),
        }
        cols: dict[str, int] = {}
        cols.update(self.stage("flops", layouts["flops"], common))
        self.common = common
        duration = next((d for d in DURATION if d in ov or self.field_reg(d) is not None), None)
        gpus = ov.get("hardware.count", self.field_reg("hardware.count"))
        if "hardware.gpu" in self.regs and gpus is not None:
            if self.spec.fields.get("parallelism.layout") == "auto" and not self.spec.fields.get("solve.for"):
                cols.update(self.search(layouts, e, cols, gpus))
                # (the FLOPs again: the hardware count depends on the recompute the search chose)
                common["recompute"] = self.regs["effective:training.recompute"]
                cols.update(self.stage("flops", layouts["flops"], common))
            else:
                cols.update(self.step(layouts, e, cols, gpus))
        if "hardware.gpu" not in self.regs or (duration is None and not outputs.predicted(self.spec)):
            return cols  # (FLOPs and memory only: outputs.TIMED)
        nan = self.const(math.nan)
        if duration is None:  # the layout's predicted MFU
            kind, value = 3.0, cols["predicted_mfu"]
        else:
            kind, value = float(DURATION.index(duration)), e(duration)
        t = self.stage("time", layouts["time"], {
            "model_flops": cols["model_flops"], "hardware_flops": cols["hardware_flops"], "peak_tflops": self.peak(),
            "util_kind": self.const(kind), "util_value": value,
            "gpus": gpus if duration == "hardware.wall_clock_days" and gpus is not None else nan,
        })
        # Goodput: the time lost to interruptions, checkpoints and restarts (rust/model/goodput.rs).
        if gpus is not None and self.goodput_hoistable():
            cols.update(self.goodput_hoisted(layouts, cols, t, kind, gpus))
            return self.money_and_wall(layouts, e, cols, gpus)
        if kind in (0.0, 3.0) and self.goodput_given():  # (a step rate: a duration's checks name numbers)
            cols.update(self.goodput_of(e("hardware.goodput"), t))
            return self.money_and_wall(layouts, e, cols, gpus)
        cols.update(self.stage("goodput", layouts["goodput"], {
            "gpus": gpus if gpus is not None else nan, "params": common["params"],
            "trainable_params": cols["trainable_params"], "mode": common["mode"],
            "gpu_mtbf_hours": e("hardware.gpu_mtbf_hours"), "checkpoint_gb_per_s": e("hardware.checkpoint_gb_per_s"),
            "restart_minutes": e("hardware.restart_minutes"), "goodput": e("hardware.goodput"),
            "util_kind": self.const(kind), "gpu_hours": t["gpu_hours"], "mfu": t["mfu"], "hfu": t["hfu"],
            # (solving, and buying compute with dollars, keep the forms affine: no modelled goodput)
            "solving": self.const(1.0 if self.spec.fields.get("solve.for") or
                                  self.field_reg("scaling.budget_usd") is not None else 0.0),
        }))
        return self.money_and_wall(layouts, e, cols, gpus)

    def money_and_wall(self, layouts: dict[str, tuple[list[str], list[str]]], e: Any, cols: dict[str, int],
                       gpus: int | None) -> dict[str, int]:
        if gpus is not None:
            cols.update(self.stage("wall", layouts["wall"], {"gpu_hours": cols["gpu_hours"], "gpus": gpus}))
        cols.update(self.stage("money", layouts["money"], {
            "gpu_hours": cols["gpu_hours"], "usd_per_gpu_hour": e("price.usd_per_gpu_hour"), "watts": e("hardware.watts"),
            "pue": e("energy.pue"), "grid_kg_co2e_per_kwh": e("energy.grid_kg_co2e_per_kwh"),
        }))
        return cols

    def goodput_hoistable(self) -> bool:
        """Whether the default goodput model applies with the GPU count's factor precomputed per
        count (`count:decay`, beside the count axis or constant): no goodput input given or swept, no
        solve, no dollar budget."""
        given = outputs.given_names(self.spec)
        return "count:decay" in self.regs and not self.spec.fields.get("solve.for") \
            and self.field_reg("scaling.budget_usd") is None \
            and not given & {"hardware.goodput", "hardware.gpu_mtbf_hours", "hardware.checkpoint_gb_per_s",
                             "hardware.restart_minutes"}

    def goodput_given(self) -> bool:
        """Whether the goodput is a number the rules checked (given, or swept over numbers; not an
        expression), with no solve and no dollar budget: then it is vector arithmetic (`goodput_of`),
        which depends on no GPU count, so the engine hoists the GPU-hours and the money out of a
        count axis (the goodput stage takes the count, per point)."""
        if self.spec.fields.get("solve.for") or self.field_reg("scaling.budget_usd") is not None:
            return False
        axis = next((a for group in self.spec.sweep.zip for a in group if a.name == "hardware.goodput"), None) or \
            next((a for a in self.spec.sweep.grid if a.name == "hardware.goodput"), None)
        if axis is not None:
            return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in axis.materialise())
        v = self.spec.fields.get("hardware.goodput")
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def goodput_of(self, ratio: int, t: dict[str, int]) -> dict[str, int]:
        """A goodput given to a run timed by its step rate, as `goodput_apply` (rust/engine/
        stages.rs) applies it: the GPU-hours grow by 1/ratio. No checkpoint interval nor
        interruptions (nothing is modelled). (A published duration keeps the goodput stage: its
        error names the implied MFU.)"""
        nan = self.const(math.nan)
        out: dict[str, int] = {"ettr": ratio, "checkpoint_interval_min": nan, "interruptions": nan}
        out["gpu_hours"] = self.bin("div", t["gpu_hours"], ratio, GOODPUT_OVERFLOW)
        out["mfu"] = t["mfu"]
        # (hfu · step MFU / MFU, the stage's arithmetic to the bit; the MFU is never 0)
        out["hfu"] = self.bin("div", self.bin("mul", t["hfu"], out["mfu"]), t["mfu"])
        out["mfu_average"] = self.bin("mul", out["mfu"], ratio)
        return out

    def goodput_hoisted(self, layouts: dict[str, tuple[list[str], list[str]]], cols: dict[str, int],
                        t: dict[str, int], kind: float, gpus: int) -> dict[str, int]:
        """The default goodput as vector arithmetic: ETTR = factor(params) × decay(count), the
        factored form of rust/model/goodput.rs (its tests hold the two equal)."""
        mtbf = GOODPUT["gpu_mtbf_hours"]
        shape = self.stage("goodput_shape", layouts["goodput_shape"], {
            "params": self.common["params"], "trainable_params": cols["trainable_params"], "mode": self.common["mode"]})
        ratio = self.check(self.bin("mul", shape["factor"], self.regs["count:decay"]), 1e-12, GOODPUT_STALLS)
        out: dict[str, int] = {"ettr": ratio}
        if kind in (0.0, 3.0):  # a step rate: the lost time adds hours
            out["gpu_hours"] = self.bin("div", t["gpu_hours"], ratio, GOODPUT_OVERFLOW)
            out["mfu"], out["hfu"] = t["mfu"], t["hfu"]
        else:  # a published total holds it: its step MFU is what it implies over the kept time
            out["gpu_hours"] = t["gpu_hours"]
            out["mfu"] = self.bin("div", t["mfu"], ratio)
            field = "wall_clock_days" if kind == 2.0 else "gpu_hours"
            self.check(self.bin("sub", self.const(1.0), out["mfu"]), 0.0, GOODPUT_ABOVE_PEAK.format(field=field))
            out["hfu"] = self.bin("div", t["hfu"], ratio)
        out["mfu_average"] = self.bin("mul", out["mfu"], ratio)
        out["checkpoint_interval_min"] = self.bin("div", self.bin("mul", shape["interval_over_mtbf"],
                                                                  self.const(mtbf * 60.0)), gpus)
        out["interruptions"] = self.bin("div", out["gpu_hours"], self.const(mtbf))
        return out

    # -- the step-time model and the layout search ---------------------------------------------------
    def step(self, layouts: dict[str, tuple[list[str], list[str]]], e: Any, cols: dict[str, int],
             gpus: int) -> dict[str, int]:
        """The step-time model (rust/model/step.rs) for the point's layout: its outputs as columns,
        the predicted MFU as ``predicted_mfu``."""
        out = self.stage("step", layouts["step"], {
            **self.model_and_network(e, cols, gpus), "recompute": self.common["recompute"],
            "tensor_parallel": e("parallelism.tensor"), "pipeline_parallel": e("parallelism.pipeline"),
            "context_parallel": e("parallelism.context"), "expert_parallel": e("parallelism.expert"),
            "micro_batch": e("training.micro_batch"), "interleave": e("parallelism.interleave"),
            "zero": e("parallelism.zero"),
        })
        out["predicted_mfu"] = out.pop("mfu")
        return out

    def model_and_network(self, e: Any, cols: dict[str, int], gpus: int) -> dict[str, int]:
        """The inputs the step and the layout search share: the model, the GPU and its network, the
        count and the global batch (the preset's published one, else DeepSeek LLM's fit)."""
        common = self.common
        nan = self.const(math.nan)
        return {
            **{k: common[k] for k in ("params", "active_params", "gated_mlp", "mode", *ARCH)},
            "trainable_params": cols["trainable_params"], "attention": e("training.attention"),
            "precision": e("training.precision"), "model_flops_per_token": cols["model_flops_per_token"],
            "peak_tflops": self.peak(), "gpus": gpus, "global_batch_tokens": self.batch_reg(cols),
            "scale_up_domain": e("hardware.scale_up_domain"), "scale_up_gb_per_s": e("hardware.scale_up_gb_per_s"),
            "scale_out_gbps": e("hardware.scale_out_gbps"), "hbm_tbps": self.regs.get("gpu:bandwidth_tbps", nan),
            "sequence_parallel": e("parallelism.sequence"), "tp_within_domain": e("parallelism.tp_within_domain"),
            "peak16_tflops": self.peak16(),
        }

    # The searched degrees: (field, search output, value when no layout is found, for the memory).
    SEARCHED = (("parallelism.tensor", "tensor_parallel", 1.0), ("parallelism.pipeline", "pipeline_parallel", 1.0),
                ("parallelism.context", "context_parallel", 1.0), ("parallelism.expert", "expert_parallel", 1.0),
                ("training.micro_batch", "micro_batch", 1.0), ("parallelism.interleave", "interleave", 1.0),
                ("training.recompute", "recompute", 0.0), ("parallelism.zero", "zero", 3.0))
    assert {name for name, _, _ in SEARCHED} == registry.SEARCHABLE  # (the flags the CLI leaves unset)

    def search(self, layouts: dict[str, tuple[list[str], list[str]]], e: Any, cols: dict[str, int],
               gpus: int) -> dict[str, int]:
        """``parallelism.layout: auto``: the fastest layout that fits (rust/model/search.rs). The
        degrees the spec sets are kept; the others become the search's answer for every later
        stage, and null columns (with ``fits`` false) where no layout is valid."""
        nan = self.const(math.nan)
        # (encoded, then distinct: "3" and "fsdp" are one ZeRO stage)
        space = {name.rsplit(".", 1)[1]: list(dict.fromkeys(self.encode(name, list(vals))))
                 for name, vals in self.spec.allowed.items()}
        out = self.stage("search", layouts["search"], {
            **self.model_and_network(e, cols, gpus), "logits": e("training.logits"),
            "base_weights": e("training.base_weights"), "optimizer": e("training.optimizer"),
            "gpu_memory_gb": self.regs.get("gpu:memory", nan),
            **{col: e(f"training.{col}") for col in self.MEMORY_SETTINGS},
            **{col: self._or(self.field_reg(name), nan) for name, col, _ in self.SEARCHED},
        }, **({"space": space} if space else {}))
        self.searched = {}
        for name, col, fallback in self.SEARCHED:
            self.searched[col] = out[col]
            self.regs[f"effective:{name}"] = self.bin("coalesce", out[col], self.const(fallback))
        self.search_found = out["found"]
        res = {k: v for k, v in out.items() if k not in {c for _, c, _ in self.SEARCHED} | {"found"}}
        res["layout_candidates"] = res.pop("candidates")
        res["predicted_mfu"] = res.pop("mfu")
        return res

    @staticmethod
    def _or(r: int | None, default: int) -> int:
        return default if r is None else r

    def batch_reg(self, cols: dict[str, int]) -> int:
        """The global batch: given, the preset's published one, else DeepSeek LLM's fit."""
        batch = self.field_reg("training.global_batch_tokens")
        if batch is None:
            rule = self.bin("mul", self.const(BATCH_RULE[0]), self.bin("pow", cols["model_flops"],
                                                                      self.const(BATCH_RULE[1])))
            preset = self.regs.get("preset:global_batch_tokens")
            batch = rule if preset is None else self.bin("coalesce", preset, rule)
        # (never more than the run's tokens: a run shorter than one batch is one step of all of them)
        return self.bin("min", batch, self.common["tokens"])

    # -- planning: compute-optimal allocation and solving ---------------------------------------------
    def allocate(self) -> None:
        """scaling.compute_flops or budget_usd: params and tokens become the fit's optimum (scaling.py)."""
        c = self.field_reg("scaling.compute_flops")
        if c is None:  # FLOPs the dollars buy: budget / price × 3600 × peak × 1e12 × MFU
            price = self.check(self.effective("price.usd_per_gpu_hour"), 5e-324,
                               "usd_per_gpu_hour: got 0, expected a price > 0 (a dollar budget buys nothing at a "
                               "price of 0)")
            bought = "scaling.budget_usd = 'budget_usd / usd_per_gpu_hour × 3600 × peak_tflops × 1e12 × mfu'"
            hours = self.bin("div", self.field_reg("scaling.budget_usd"), price, bought)  # type: ignore[arg-type]
            c = self.bin("mul", self.bin("mul", hours, self.const(3600.0 * 1e12), bought),
                         self.bin("mul", self.peak(), self.effective("hardware.mfu"), bought), bought)
        x = self.bin("div", c, self.const(6.0))
        fit = str(self.spec.fields["scaling.fit"])
        if fit == scaling.RULE:
            r = self.field_reg("scaling.tokens_per_param")
            r = r if r is not None else self.const(scaling.TOKENS_PER_PARAM)
            n = self.un("sqrt", self.bin("div", x, r))
            d = self.bin("mul", r, n)
        else:
            f = scaling.FITS[fit]
            n = self.bin("mul", self.const(f.G), self.bin("pow", x, self.const(f.a)))
            d = self.bin("div", self.bin("pow", x, self.const(f.b)), self.const(f.G))
        budget = "scaling.compute_flops" if self.field_reg("scaling.compute_flops") is not None else "scaling.budget_usd"
        served = self.inference_tokens()
        if served is not None and fit in scaling.FITS:
            # A model's whole life (Sardana et al. 2023): the loss of the budget's compute-optimal
            # model, reached with the fewest training + inference FLOPs (rust/model/lifetime.rs).
            f = scaling.FITS[fit]
            loss = self.bin("add", self.const(f.E), self.bin("add", self.bin("mul", self.const(f.A), self.bin(
                "pow", n, self.const(-f.alpha))), self.bin("mul", self.const(f.B), self.bin("pow", d, self.const(-f.beta)))))
            life = self.stage("lifetime", self.layouts["lifetime"], {
                "e": self.const(f.E), "a": self.const(f.A), "b": self.const(f.B), "alpha": self.const(f.alpha),
                "beta": self.const(f.beta), "loss": loss, "inference_tokens": served})
            n, d = life["params"], life["tokens"]
        why = f"{budget}: a budget whose compute-optimal split is at least one parameter and one token"
        n, d = self.check(n, 1.0, why), self.check(d, 1.0, why)  # (as scaling.optimal refuses)
        self.regs.update({"effective:model.params": n, "effective:model.active_params": n,
                          "effective:training.tokens": d, "compute_flops": c})

    def solve(self, layouts: dict[str, tuple[list[str], list[str]]]) -> dict[str, int]:
        """solve.for: the unknown from two trial evaluations (the affine forms of solver.py), clamped
        into its domain; ``self.checks`` (made in ``model``) drop the points with no answer."""
        from costspec import solver as sv

        unknown = str(self.spec.fields["solve.for"])
        short = next(k for k, v in sv.UNKNOWNS.items() if v == unknown)
        recip = short in sv.RECIPROCAL
        # The two values of the unknown evaluated (solver._trials): whole GPU counts exactly.
        if short == "gpus":
            # Whole multiples of TP·PP·lcm(CP, EP), the engine's unit: lcm computed here when CP and EP
            # are written values; swept, CP·EP (a multiple of the lcm: counts the engine takes).
            written = [self.spec.fields.get(f, 1) for f in ("parallelism.context", "parallelism.expert")]
            degrees = [int(v) for v in written if isinstance(v, (int, float)) and float(v).is_integer()]
            if len(degrees) == 2:
                group = self.const(float(math.lcm(*degrees)))
            else:
                group = self.bin("mul", self.effective("parallelism.context"), self.effective("parallelism.expert"))
            mp = self.bin("mul", self.bin("mul", self.effective("parallelism.tensor"),
                                          self.effective("parallelism.pipeline")), group)
            trials = (mp, self.bin("mul", mp, self.const(2.0)))
        else:
            trials = (self.const(sv.TRIALS[short][0]), self.const(sv.TRIALS[short][1]))

        def value(tr: int) -> int:  # (the variable the targets are affine in, and back: 1/x for reciprocals)
            return self.bin("div", self.const(1.0), tr) if recip else tr

        def over(x: int) -> dict[str, int]:
            return {unknown: x, "model.active_params": x} if unknown == "model.params" else {unknown: x}

        t = (value(trials[0]), value(trials[1]))
        outs = [self.compute(layouts, over(v)) for v in trials]
        dt = self.bin("sub", t[1], t[0])
        best = -1
        for name in sv.TARGETS:
            target = self.field_reg(f"solve.{name}")
            if target is None:
                continue
            self.solve_targets.append((name, target))
            if name not in outs[0]:  # (no GPU count, no deadline: the checks say so first; a point says why)
                nan = self.const(math.nan)
                self.bounds.append((name, nan, nan, nan))
                continue
            f1, f2 = outs[0][name], outs[1][name]
            b = self.bin("div", self.bin("sub", f2, f1), dt)
            # -0 + 0 = +0: a target that does not move gets the bound +inf (met) or -inf (contradicted),
            # whatever the sign of dt (negative for the GPU count), met within solve.RTOL as solver.py checks it
            b = self.bin("add", b, self.const(0.0))
            a = self.bin("sub", f1, self.bin("mul", b, t[0]))
            slack = self.bin("mul", self.bin("eq", b, self.const(0.0)), self.bin("mul", target, self.const(sv.RTOL)))
            bound = self.bin("div", self.bin("add", self.bin("sub", target, a), slack), b)  # b = 0: ±inf; min skips NaN
            self.bounds.append((name, bound, f1, b))
            best = bound if best < 0 else self.bin("min", best, bound)
        if best < 0:  # no target has a bound
            best = self.const(math.nan)
        x = value(best)
        self.unrounded = x
        lo, hi = sv.DOMAIN[short]
        if short != "mfu":  # an answer beyond what costspec evaluates is no answer (not the clamped value)
            self.checks.append(self.bin("le", x, self.const(hi)))
        if short == "gpus":  # whole multiples of TP·PP, at least the memory minimum
            x = self.bin("mul", self.un("ceil", self.bin("mul", self.bin("div", x, mp), self.const(1 - 1e-12))), mp)
            x = self.bin("max", self.bin("min", x, self.const(hi)), mp)
            self.solved_states = self.stage("mem_states", layouts["mem_states"], self.mem_inputs(over(x), outs[0]))
            x = self.bin("max", x, self.solved_states["min_gpus"])  # (NaN: memory unknown, or never fits; fits says which)
        else:
            x = self.bin("max", self.bin("min", x, self.const(hi)), self.const(lo))  # NaN → hi; checked later
        return over(x)

    # The memory model's settings both memory stages take (memory_settings in rust/engine/stages.rs),
    # each training.<name>, written as the column <name>.
    MEMORY_SETTINGS = ("framework_gb", "allocator_share", "dropout", "lora_dropout", "paged_optimizer")
    assert all(FIELDS[f"training.{c}"].column == c for c in MEMORY_SETTINGS)

    def mem_inputs(self, ov: dict[str, int], cols: dict[str, int]) -> dict[str, int]:
        def e(name: str) -> int:
            return ov[name] if name in ov else self.effective(name)

        return {
            "params": e("model.params"), "trainable_params": cols["trainable_params"],
            **{a: e(f"model.architecture.{a}") for a in ARCH}, "gated_mlp": self.common["gated_mlp"],
            "attention": e("training.attention"), "logits": e("training.logits"),
            "base_weights": e("training.base_weights"), "interleave": e("parallelism.interleave"),
            **{col: e(f"training.{col}") for col in self.MEMORY_SETTINGS},
            "precision": e("training.precision"), "optimizer": e("training.optimizer"), "zero": e("parallelism.zero"),
            "tensor_parallel": e("parallelism.tensor"), "pipeline_parallel": e("parallelism.pipeline"),
            "sequence_parallel": e("parallelism.sequence"), "context_parallel": e("parallelism.context"),
            "expert_parallel": e("parallelism.expert"), "active_params": e("model.active_params"),
            "micro_batch": e("training.micro_batch"), "recompute": e("training.recompute"),
            "mode": e("training.mode"), "gpu_memory_gb": self.regs.get("gpu:memory", self.const(math.nan)),
            "arch_given": self.const(1.0 if any(n.startswith("model.architecture.") for n in outputs.given_names(self.spec))
                                     else 0.0),
        }

    def model(self, layouts: dict[str, tuple[list[str], list[str]]]) -> dict[str, int]:
        e = self.effective
        if any(self.field_reg(n) is not None for n in ("scaling.compute_flops", "scaling.budget_usd")):
            self.allocate()
        ov = self.solve(layouts) if self.spec.fields.get("solve.for") else {}
        cols = self.compute(layouts, ov)
        common = self.common
        gpus = ov.get("hardware.count", self.field_reg("hardware.count"))
        nan = self.const(math.nan)
        peak = self.peak() if "hardware.gpu" in self.regs else nan
        price = e("price.usd_per_gpu_hour")
        mem_in = self.mem_inputs(ov, cols)
        # (solving for the GPU count computed these already: they do not depend on the count)
        st = self.solved_states or self.stage("mem_states", layouts["mem_states"], mem_in)
        self.states = st
        mg = self.stage("mem_gpu", layouts["mem_gpu"], {
            **{k: v for k, v in st.items()}, "zero": mem_in["zero"], "gpus": gpus if gpus is not None else nan,
            "tensor_parallel": mem_in["tensor_parallel"], "pipeline_parallel": mem_in["pipeline_parallel"],
            "context_parallel": mem_in["context_parallel"], "expert_parallel": mem_in["expert_parallel"],
            "gpu_memory_gb": mem_in["gpu_memory_gb"],
        })
        cols.update(mg)
        cols["min_gpus"] = st["min_gpus"]
        cols["memory_basis"] = st["memory_basis"]
        cols.update({
            "model": self.regs["model.preset"] if "model.preset" in self.regs else nan,
            "params": common["params"], "active_params": common["active_params"], "tokens": common["tokens"],
            "gpu": self.regs.get("hardware.gpu", nan), "gpus": gpus if gpus is not None else nan,
            "precision": mem_in["precision"], "convention": common["convention"], "mode": common["mode"],
            "recompute": common["recompute"], "optimizer": mem_in["optimizer"], "attention": mem_in["attention"],
            "logits": mem_in["logits"], **{col: mem_in[col] for col in self.MEMORY_SETTINGS},
            "base_weights": mem_in["base_weights"], "peak_tflops": peak,
            "usd_per_gpu_hour": price, "watts": e("hardware.watts"), "power_basis": e("hardware.power_basis"),
            "pue": e("energy.pue"),
            "grid_kg_co2e_per_kwh": e("energy.grid_kg_co2e_per_kwh"), "zero": mem_in["zero"],
            "tensor_parallel": mem_in["tensor_parallel"], "pipeline_parallel": mem_in["pipeline_parallel"],
            "sequence_parallel": mem_in["sequence_parallel"], "context_parallel": mem_in["context_parallel"],
            "expert_parallel": mem_in["expert_parallel"], "tp_within_domain": e("parallelism.tp_within_domain"),
            "micro_batch": mem_in["micro_batch"], "gpu_memory_gb": mem_in["gpu_memory_gb"],
            "interleave": e("parallelism.interleave"), "scale_up_domain": e("hardware.scale_up_domain"),
            "scale_up_gb_per_s": e("hardware.scale_up_gb_per_s"), "scale_out_gbps": e("hardware.scale_out_gbps"),
        })
        if self.searched:  # the search's answer as the layout columns (null where there is none)
            cols.update({col: reg for col, reg in self.searched.items() if col in cols})
            cols["fits"] = self.bin("mul", cols["fits"], self.search_found)
            if "data_parallel" in cols:  # (found / found: 1, or NaN where no layout is: a null count)
                cols["data_parallel"] = self.bin("mul", cols["data_parallel"],
                                                 self.bin("div", self.search_found, self.search_found))
        provider = self.field_reg("price.provider")
        if provider is not None:
            cols["provider"] = provider
        cols["tokens_per_param"] = self.bin("div", common["tokens"], common["params"],
                                            "tokens_per_param = training.tokens / model.params")
        if "compute_flops" in self.regs:
            cols["compute_flops"] = self.regs["compute_flops"]
        fit = self.spec.fields.get("scaling.fit")
        if fit in scaling.FITS:  # L = E + A·N^-α + B·D^-β
            f = scaling.FITS[str(fit)]
            term_n = self.bin("mul", self.const(f.A), self.bin("pow", common["params"], self.const(-f.alpha)))
            term_d = self.bin("mul", self.const(f.B), self.bin("pow", common["tokens"], self.const(-f.beta)))
            cols["loss"] = self.bin("add", self.const(f.E), self.bin("add", term_n, term_d))
        for name, target in self.solve_targets:  # the answer meets every target, else no answer
            if name not in cols:  # (a deadline without a GPU count: the checks refuse it first)
                self.checks.append(self.const(0.0))
                continue
            self.checks.append(self.bin("le", cols[name], self.bin("mul", target, self.const(1 + 1e-9))))
        if self.spec.fields.get("solve.for") == "hardware.count":  # the count never fits
            self.checks.append(self.bin("ne", cols["fits"], self.const(0.0)))
        return cols

    # -- a model's whole life ---------------------------------------------------------------------
    def inference_tokens(self) -> int | None:
        """The tokens served over the model's life: given, or requests per day × days × a request's
        tokens (serving.input_tokens + serving.output_tokens); None without a lifetime section."""
        served = self.field_reg("lifetime.tokens_served")
        if served is not None:
            return served
        per_day = self.field_reg("lifetime.requests_per_day")
        if per_day is None:
            return None
        tokens = self.bin("add", self.effective("serving.input_tokens"), self.effective("serving.output_tokens"))
        why = "lifetime.requests_per_day = 'requests per day × days × (input + output tokens)'"
        return self.bin("mul", self.bin("mul", per_day, self.effective("lifetime.days"), why), tokens, why)

    def lifetime(self, cols: dict[str, int]) -> dict[str, int]:
        """Inference and lifetime FLOPs, and with prices the training, serving and lifetime cost."""
        served = self.inference_tokens()
        if served is None:
            return {}
        nan = self.const(math.nan)
        per_day, days = self.field_reg("lifetime.requests_per_day"), self.field_reg("lifetime.days")
        out = {"tokens_served": served, "requests_per_day": nan if per_day is None else per_day,
               "days_served": nan if days is None else days}
        lived = "lifetime.tokens_served = '2 × active params × tokens served, + the training FLOPs and cost'"
        out["inference_flops"] = self.bin("mul", self.bin("mul", self.const(2.0), self.effective("model.active_params")),
                                          served, lived)
        if "model_flops" in cols:
            out["lifetime_flops"] = self.bin("add", cols["model_flops"], out["inference_flops"], lived)
        if "cost_usd" in cols:
            out["training_cost_usd"] = cols["cost_usd"]
        if "usd_per_m_tokens_served" in cols:  # (requests × output tokens at the replica's price)
            s_in, s_out = self.effective("serving.input_tokens"), self.effective("serving.output_tokens")
            requests = self.bin("div", served, self.bin("add", s_in, s_out))
            out["serving_cost_usd"] = self.bin("mul", self.bin("mul", requests, s_out, lived), self.bin(
                "div", cols["usd_per_m_tokens_served"], self.const(1e6)), lived)
        if "training_cost_usd" in out and "serving_cost_usd" in out:
            out["lifetime_cost_usd"] = self.bin("add", out["training_cost_usd"], out["serving_cost_usd"], lived)
        return out

    # -- serving --------------------------------------------------------------------------------
    def serve_peak(self, weights: int, activations: int) -> int:
        """The dense peak serving's GEMMs run at: with activations auto, fp8 weights at the GPU's
        fp8 peak and the others (16-bit, and weight-only int8/int4, dequantised to 16 bits) at its
        bf16 (else fp16) peak; activations bf16 or fp8 choose it (fp8 with 16-bit weights: none);
        a (GPU, weights × activations) lookup, NaN where the GPU has no such peak (no fit)."""
        gpus = [self.cat.gpu(g) for g in self.dicts.get("hardware.gpu", ())]

        def peak(g: Gpu, w: str) -> float:
            for p in (("fp8",) if w == "fp8" else ("bf16", "fp16")):
                if p in g.peak_tflops:
                    return g.peak_tflops[p].value
            return math.nan

        def gemm(w: str, a: str) -> str | None:  # (None: 16-bit weights do not feed fp8 GEMMs)
            if a == "auto":
                return "fp8" if w == "fp8" else "bf16"
            return None if a == "fp8" and w == "bf16" else a

        order, acts = CHOICES["serving.weights"], CHOICES["serving.activations"]
        self.tables.append({"cols": len(order) * len(acts),
                            "values": [peak(g, p) if (p := gemm(w, a)) else math.nan
                                       for g in gpus for w in order for a in acts]})
        o = self.new()
        pair = self.bin("add", self.bin("mul", weights, self.const(float(len(acts)))), activations)
        self.op(k="lut", t=len(self.tables) - 1, a=self.regs["hardware.gpu"], b=pair, o=o)
        return o

    def serving(self, layouts: dict[str, tuple[list[str], list[str]]]) -> dict[str, int]:
        """The serving stage (rust/model/serve.rs) and what its figures give: prices per million
        tokens, energy per token, requests/s, and the replicas a demand needs."""
        e = self.effective
        nan = self.const(math.nan)
        weights, tp, pp, ep = e("serving.weights"), e("serving.tensor"), e("serving.pipeline"), e("serving.expert")
        # The replica once per layout and request, then each batch (the engine hoists the first).
        rep = self.stage("serve_layout", layouts["serve_layout"], {
            "params": e("model.params"), "active_params": e("model.active_params"),
            **{a: e(f"model.architecture.{a}") for a in ("layers", "d_model", "heads", "kv_heads", "head_dim",
                                                          "experts", "experts_per_token", "kv_latent")},
            "peak_tflops": self.serve_peak(weights, e("serving.activations")), "hbm_tbps": self.regs.get("gpu:bandwidth_tbps", nan),
            "gpu_memory_gb": self.regs.get("gpu:datasheet_memory", nan),
            "scale_up_gb_per_s": e("hardware.scale_up_gb_per_s"),
            "scale_up_domain": e("hardware.scale_up_domain"), "scale_out_gbps": e("hardware.scale_out_gbps"),
            "tensor_parallel": tp, "pipeline_parallel": pp, "expert_parallel": ep, "weights": weights,
            "kv": e("serving.kv"), "input_tokens": e("serving.input_tokens"), "output_tokens": e("serving.output_tokens"),
            "max_batch": e("serving.max_batch"), "mbu": e("serving.mbu"),
            "mfu_decode": e("serving.mfu_decode"), "mfu_prefill": e("serving.mfu_prefill"),
            "tp_efficiency": e("serving.tp_efficiency"),
            "kv_fraction": e("serving.kv_fraction"), "reserved_gb": e("serving.reserved_gb"),
            "max_tpot_s": e("serving.max_tpot_s"), "max_ttft_s": e("serving.max_ttft_s"),
        })
        at = self.stage("serve_batch", layouts["serve_batch"], {
            **{k: rep[k] for k in ("default_batch", "max_batch", "read0", "read1", "math1", "comm0", "comm1",
                                   "ttft_s", "groups", "layout_valid")},
            "batch": e("serving.batch"), "input_tokens": e("serving.input_tokens"),
            "output_tokens": e("serving.output_tokens"), "tensor_parallel": tp, "pipeline_parallel": pp,
            "max_tpot_s": e("serving.max_tpot_s"),
            "max_ttft_s": e("serving.max_ttft_s"),
        })
        # The rates only where a point is kept (after the filters and rankings the step gives).
        rates = self.stage("serve_rate", layouts["serve_rate"], {
            "batch": at["batch"], "tpot_s": at["tpot_s"], "ttft_s": rep["ttft_s"],
            "input_tokens": e("serving.input_tokens"), "output_tokens": e("serving.output_tokens"),
            "tensor_parallel": tp, "pipeline_parallel": pp, "groups": rep["groups"],
        })
        out = {**rep, **at, **rates}
        cols = {k: out[k] for k in ("weights_gb_per_gpu", "kv_bytes_per_token", "kv_gb_per_sequence", "max_batch",
                                    "batch", "ttft_s", "tpot_s", "latency_s", "output_tokens_per_s",
                                    "output_tokens_per_s_per_gpu", "critical_batch", "compute_bound")}
        self.serve_out = out
        # (the replica's GPUs: TP · PP, or EP · PP with wide EP's EP/TP attention groups)
        gpus = self.bin("mul", self.bin("mul", tp, rep["groups"]), pp)
        tps = out["output_tokens_per_s"]
        price = e("price.usd_per_gpu_hour")
        # The replica's price per second, split by time: a request's prompt pays for its prefill,
        # each output token for its share of a decode step (the two add up to the replica's time).
        # (per million tokens: the price of a replica-second × 1e6, hoisted out of the batches)
        # A figure beyond the float range is an error naming the input that took it there.
        priced = "price.usd_per_gpu_hour = 'usd_per_gpu_hour × GPUs of a replica / 3600 × 1e6 × seconds per token'"
        per_s = self.bin("mul", self.bin("div", self.bin("mul", price, gpus, priced), self.const(3600.0), priced),
                         self.const(1e6), priced)
        # (a prompt's share of the replica's time: the stages of the groups prefill PP · groups prompts
        # side by side, Replica::prefill: TTFT / min(batch, PP · groups) per prompt)
        slots = self.bin("mul", pp, rep["groups"])
        prefill_share = self.bin("div", out["ttft_s"], self.bin("min", out["batch"], slots))
        cols["usd_per_m_input_tokens"] = self.bin("div", self.bin("mul", per_s, prefill_share, priced),
                                                  e("serving.input_tokens"), priced)
        cols["usd_per_m_output_tokens"] = self.bin("mul", per_s, out["decode_s_per_token"], priced)  # (TPOT / batch)
        cols["usd_per_m_tokens_served"] = self.bin("div", per_s, tps, priced)
        powered = "hardware.watts = 'watts × GPUs of a replica × PUE / output tokens per second'"
        power = self.bin("mul", self.bin("mul", e("hardware.watts"), gpus, powered), e("energy.pue"), powered)
        cols["joules_per_token"] = self.bin("div", power, tps, powered)
        cols["requests_per_s"] = self.bin("div", tps, e("serving.output_tokens"))
        demand = self.field_reg("serving.demand_tokens_per_s")
        if demand is not None:
            # (1 − 1e-12: a demand that is a whole multiple of a replica's rate needs that many)
            demanded = "serving.demand_tokens_per_s = 'demand / output tokens per second of a replica'"
            replicas = self.un("ceil", self.bin("mul", self.bin("div", demand, tps, demanded), self.const(1 - 1e-12)))
            fleet = self.bin("mul", replicas, gpus, demanded)
            # (GPU counts are whole numbers a float holds exactly, as every count costspec writes)
            room = self.check(self.bin("sub", self.const(registry.MAX_WHOLE), fleet), 0.0,
                              "serving.demand_tokens_per_s: expected a demand that at most 4.5e15 GPUs serve")
            cols["replicas"] = replicas
            cols["serving_gpus"] = self.bin("sub", self.const(registry.MAX_WHOLE), room)
            cols["fleet_usd_per_hour"] = self.bin("mul", cols["serving_gpus"], price, priced)
        cols["serving_fits"] = out["fits"]
        cols.update({
            "serving_tensor_parallel": tp, "serving_pipeline_parallel": pp, "serving_expert_parallel": ep,
            "activations_precision": e("serving.activations"), "weights_precision": weights, "kv_precision": e("serving.kv"),
            "input_tokens": e("serving.input_tokens"), "output_tokens": e("serving.output_tokens"),
            "batch_cap": e("serving.max_batch"), "max_tpot_s": e("serving.max_tpot_s"),
            "max_ttft_s": e("serving.max_ttft_s"), "mbu": e("serving.mbu"), "mfu_decode": e("serving.mfu_decode"),
            "mfu_prefill": e("serving.mfu_prefill"), "kv_fraction": e("serving.kv_fraction"),
            "tp_efficiency": e("serving.tp_efficiency"),
            "reserved_gb": e("serving.reserved_gb"),
            "demand_tokens_per_s": demand if demand is not None else nan,
        })
        return cols

    def serving_only(self, layouts: dict[str, tuple[list[str], list[str]]]) -> dict[str, int]:
        """A spec that only serves: the serving columns and the inputs they share with training."""
        e = self.effective
        nan = self.const(math.nan)
        cols = self.serving(layouts)
        cols["fits"] = cols["serving_fits"]
        cols.update({
            "model": self.regs["model.preset"] if "model.preset" in self.regs else nan,
            "params": e("model.params"), "active_params": e("model.active_params"),
            "gpu": self.regs.get("hardware.gpu", nan), "usd_per_gpu_hour": e("price.usd_per_gpu_hour"),
            "watts": e("hardware.watts"), "power_basis": e("hardware.power_basis"), "pue": e("energy.pue"),
            "grid_kg_co2e_per_kwh": e("energy.grid_kg_co2e_per_kwh"),
            "gpu_memory_gb": self.regs.get("gpu:datasheet_memory", nan),
            "scale_up_domain": e("hardware.scale_up_domain"),
            "scale_up_gb_per_s": e("hardware.scale_up_gb_per_s"),
        })
        provider = self.field_reg("price.provider")
        if provider is not None:
            cols["provider"] = provider
        return cols


def compile_spec(spec: Spec, *, point: bool = False) -> Plan:
    """Compile a checked spec into a plan. Raises SpecError for what only compiling finds.

    With ``point`` (a one-point result: ``costspec estimate``), nothing is filtered and every
    output is an f64 register, NaN for no value: the columns that have values whatever
    ``output.columns`` says, each ``where`` condition as ``where[i]`` and each check of a solved
    value as ``check[j]`` (1 or 0), and, when solving, per target ``bound:<target>`` (the
    transformed unknown t that meets it exactly, solver.py's affine form; ±inf when the target does
    not move with it), ``trial:<target>`` (its value at the first trial), ``slope:<target>`` (0 when
    it does not move) and ``unrounded`` (the unknown before rounding and clamping)."""
    from costspec import _native

    c = _Compiler(spec)
    for name, v in spec.fields.items():
        if isinstance(v, expr.Expr):
            if name in CATEGORY_COLUMN or name == "parallelism.zero":
                raise c.error(tuple(name.split(".")), f"{name} takes a name, not an expression, in a sweep")
            c.pending[name] = (v, tuple(name.split(".")))
    for name, e in spec.derive.items():
        c.pending[name] = (e, ("derive", name))
    c.add_axes()
    c.fixed_inputs()
    layouts = {k: (list(v[0]), list(v[1])) for k, v in _native.stage_layouts().items()}
    c.layouts = layouts
    if outputs.serving_only(spec):
        cols = c.serving_only(layouts)
        cols.update(c.lifetime(cols))  # (the tokens it serves: no training run to add)
    else:
        cols = c.model(layouts)
        if outputs.serves(spec):  # trained and served: both fit
            served = c.serving(layouts)
            cols.update({k: v for k, v in served.items() if k != "fits"})
            cols["fits"] = c.bin("mul", cols["fits"], served["serving_fits"])
        cols.update(c.lifetime(cols))

    available = outputs.available(spec, c.gpus)
    derived = {}
    for name in spec.derive:
        derived[name] = c.name_reg(name, ("derive", name))
    for name in list(c.pending):
        c.name_reg(name, c.pending[name][1])
    filters = list(c.checks)
    c.regs.update({k: v for k, v in cols.items() if k not in c.regs})
    for i, cond in enumerate(spec.where):
        for n in cond.names:
            if n.name in colinfo.NAMES and n.name not in available:
                raise c.error(("where",), f"where {cond.text!r}: {n.name} has no value in this spec "
                                          f"({outputs.why_missing(n.name, spec)})")
        filters.append(c.compile(cond, ("where",), f"where[{i}]"))
    if point:
        return _point_plan(c, spec, cols, available, derived, filters)

    units = {n: u for n, u, _ in colinfo.COLUMNS}
    nullable = outputs.nullable(spec)

    def column(col: str) -> OutputColumn:
        reg = cols[col]
        if col in CATEGORY_COLUMN.values():
            field_name = next(k for k, v in CATEGORY_COLUMN.items() if v == col)
            dictionary = c.dicts.get(field_name, CHOICES.get(field_name, ()))
            return OutputColumn(col, "i32", reg, tuple(dictionary), nullable=col in nullable, unit=units.get(col, ""))
        if col in OUTPUT_CHOICES:
            return OutputColumn(col, "i32", reg, OUTPUT_CHOICES[col], unit=units.get(col, ""))
        if col in outputs.FLAGS:
            return OutputColumn(col, "bool", reg, unit="bool")
        if col in outputs.WHOLE:
            return OutputColumn(col, "i64", reg, unit=units.get(col, ""))
        return OutputColumn(col, "f64", reg, nullable=col in nullable, unit=units.get(col, ""))

    extra = {n: OutputColumn(n, "f64", c.regs[n]) for n in outputs.variables(spec)}
    extra.update({n: OutputColumn(n, "f64", r) for n, r in derived.items()})
    out_cols: list[OutputColumn] = []
    for i, col in enumerate(outputs.written(spec, c.gpus)):
        if col in extra:
            out_cols.append(extra[col])
        elif col in available and col in cols:
            out_cols.append(column(col))
        else:  # (the checks refuse this first: a safety net)
            raise c.error(("output", "columns", i), f"column {col!r} has no value in this spec "
                                                    f"({outputs.why_missing(col, spec)})")

    plan_json = {
        "registers": c.nreg,
        "consts": c.const_list,
        "axes": c.axes_json,
        "tables": c.tables,
        "ops": c.ops,
        "filters": filters,
        # (flags reach Python as doubles, NaN for no value: `fits` without a device memory is null)
        "outputs": [{"reg": o.reg, "kind": "f64" if o.kind == "bool" else o.kind} for o in out_cols],
        "messages": c.messages,
    }
    return Plan(spec, c.axes, _nan_safe(plan_json), out_cols, c.axis_values)


def _point_plan(c: _Compiler, spec: Spec, cols: dict[str, int], available: set[str], derived: dict[str, int],
                filters: list[int]) -> Plan:
    """The one-point plan (compile_spec's ``point``): every value as an f64 output, no filter."""
    units = {n: u for n, u, _ in colinfo.COLUMNS}
    out: list[OutputColumn] = []
    for name in [*colinfo.NAMES, "provider"]:
        if name in cols and (name in available or name == "provider"):
            if name in CATEGORY_COLUMN.values():
                field_name = next(k for k, v in CATEGORY_COLUMN.items() if v == name)
                dictionary = c.dicts.get(field_name, CHOICES.get(field_name, ()))
                out.append(OutputColumn(name, "i32", cols[name], tuple(dictionary)))
            elif name in OUTPUT_CHOICES:
                out.append(OutputColumn(name, "i32", cols[name], OUTPUT_CHOICES[name]))
            else:
                kind = "bool" if name in outputs.FLAGS else ("i64" if name in outputs.WHOLE else "f64")
                out.append(OutputColumn(name, kind, cols[name], nullable=True, unit=units.get(name, "")))
    out += [OutputColumn(n, "f64", c.regs[n], nullable=True) for n in outputs.variables(spec)]
    out += [OutputColumn(n, "f64", r, nullable=True) for n, r in derived.items()]
    checks = len(c.checks)
    out += [OutputColumn(f"check[{j}]", "bool", r) for j, r in enumerate(filters[:checks])]
    out += [OutputColumn(f"where[{i}]", "bool", r) for i, r in enumerate(filters[checks:])]
    out += [OutputColumn(f"target:{name}", "f64", r, nullable=True) for name, r in c.solve_targets]
    for name, bound, first, slope in c.bounds:
        out += [OutputColumn(f"bound:{name}", "f64", bound, nullable=True),
                OutputColumn(f"trial:{name}", "f64", first, nullable=True),
                OutputColumn(f"slope:{name}", "f64", slope, nullable=True)]
    if c.unrounded is not None:
        out.append(OutputColumn("unrounded", "f64", c.unrounded, nullable=True))
    # What the breakdown shows beside the columns: the architecture the FLOPs and memory used, and
    # the bytes per GPU that no data-parallel degree shards.
    for a in registry.MODEL_ARCHITECTURE:
        out.append(OutputColumn(f"architecture.{a}", "f64", c.effective(f"model.architecture.{a}"), nullable=True))
    if c.common:
        out.append(OutputColumn("architecture.gated_mlp", "bool", c.common["gated_mlp"]))
    if c.states:
        out.append(OutputColumn("unshardable_bytes", "f64", c.states["state_fixed"], nullable=True))
    # Why a served point does not fit (costspec serve says which).
    out += [OutputColumn(f"serve:{k}", "bool" if k != "peak_tflops" else "f64", r)
            for k, r in c.serve_out.items() if k in ("memory_fits", "meets_bounds", "layout_valid")]
    plan_json = {
        "registers": c.nreg, "consts": c.const_list, "axes": c.axes_json, "tables": c.tables, "ops": c.ops,
        "filters": [], "outputs": [{"reg": o.reg, "kind": "f64"} for o in out], "messages": c.messages,
    }
    return Plan(spec, c.axes, _nan_safe(plan_json), out, c.axis_values)


def _nan_safe(obj: Any) -> Any:
    """JSON has no NaN: the engine reads null as NaN. Nor infinities: the checks keep every input
    finite, so one here is a bug, reported as an error rather than written as non-JSON."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, float) and not math.isfinite(obj):
        raise CostspecError(f"the plan holds a non-finite number ({obj}); please report this spec")
    if isinstance(obj, dict):
        return {k: _nan_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_safe(v) for v in obj]
    return obj


def describe(plan: Plan) -> str:
    """What `costspec plan` prints: the axes, the point count and the output size."""
    lines = [f"plan for {printable(plan.spec.file)}" + (f" ({plan.spec.name})" if plan.spec.name else "")]
    lines.append("axes (the first varies slowest):")
    for (names, n), axes in zip(plan.axes, plan.axis_values):
        first = [_shown(names[0], axes[names[0]].value_at(i), plan.spec.catalog) for i in range(min(n, 4))]
        shown = ", ".join(_short(v) for v in first) + (", ..." if n > 4 else "")
        lines.append(f"  {' + '.join(names)}: {n:,} value{'s' if n != 1 else ''} [{shown}]")
    if not plan.axes:
        lines.append("  (none: one point)")
    lines.append(f"points: {plan.points:,}")
    if plan.spec.where:
        lines.append("where: " + "; ".join(w.text for w in plan.spec.where) + " (kept points are fewer)")
    size = plan.points * plan.bytes_per_row()
    lines.append(f"columns: {len(plan.columns)} ({', '.join(c.name for c in plan.columns)})")
    lines.append(f"output: up to {_bytes(size)} in memory, typically a third of that or less as Parquet (zstd)")
    return "\n".join(lines)


def _shown(name: str, v: Any, cat: Catalog) -> Any:
    """An axis value as users know it: catalog names resolved to their ids."""
    if name == "model.preset":
        return cat.model(str(v)).id
    if name == "hardware.gpu":
        return cat.gpu(str(v)).id
    return v


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _bytes(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


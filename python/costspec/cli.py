"""The ``costspec`` command line.

Exit status: 0 on success, 2 on bad input or usage (a one-line error on stderr, never a
traceback).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from costspec import fields as registry
from costspec import outputs
from costspec.catalog import Catalog
from costspec.errors import CatalogError, CostspecError, InputError, ModelInputError, SpecError, printable

# Input names (API / JSON) and the flags that set them: the registry's, and the names the cost
# model reports that no flag sets directly.
FLAGS: dict[str, str] = {f.keyword: f.flag for f in registry.INPUTS if f.flag}
FLAGS.update({"peak_tflops": "--precision",
              "gpu_memory_gb": "--gpu", "architecture": "--arch", "lora": "--lora-rank or --lora-fraction",
              "compute_flops": "--compute-flops", "budget_usd": "--budget-usd"})
# Names that may appear inside an error's "expected ..." text, shown as flags on the command line.
_NAMED = re.compile(r"\b(mfu|gpu_hours|wall_clock_days|dataset_tokens|tokens|params|gpus|lora_rank|lora_fraction|tensor_parallel"
                    r"|pipeline_parallel|context_parallel|expert_parallel|micro_batch|tp_within_domain)\b")


def echo(text: str, nl: bool = True) -> None:
    """Print to stdout, every line's control characters escaped: names and paths from specs and
    catalogs cannot break a line apart or forge one (a GitHub annotation, say)."""
    from costspec.errors import printable

    click.echo("\n".join(printable(line) for line in str(text).split("\n")), nl=nl)


def flag_for(field: str) -> str:
    item = re.fullmatch(r"(\w+)\[(\d+)\]", field)  # (one value of a list: --tp 4,8's second is "--tp (value 2)")
    if item:
        return f"{flag_for(item.group(1))} (value {int(item.group(2)) + 1})"
    if field.startswith("architecture."):
        return f"--arch {field.split('.', 1)[1]}=..."
    if field in (*registry.MODEL_ARCHITECTURE, "gated_mlp"):  # (the engine names them bare)
        return f"--arch {field}=..."
    return FLAGS.get(field, "--" + field.replace("_", "-")).split("/")[0]  # (--sp/--no-sp: --sp)


class UsageFailure(Exception):
    """A one-line usage error, printed as 'costspec: error: ...' with exit status 2."""


_SPEC_FIELD = re.compile(r"\b(?:model|training|hardware|price|energy|parallelism|serving|solve|scaling)\.[a-z_]+(?:\.[a-z_]+)?")


def _as_flags(msg: str) -> str:
    """The rules name spec fields: on the command line, the flags that set them."""
    return _SPEC_FIELD.sub(lambda m: (registry.FIELDS[m.group(0)].flag or m.group(0)).split("/")[0]
                           if m.group(0) in registry.FIELDS else m.group(0), msg)


def describe(err: CostspecError) -> str:
    """The error as one line, naming the flag the user typed."""
    if isinstance(err, CatalogError):
        return f"--catalog: {err}"
    if isinstance(err, InputError):
        accepted = _NAMED.sub(lambda m: flag_for(m.group(1)), err.accepted)
        return f"{flag_for(err.field)}: got {err.given}, expected {accepted}"
    msg = str(err)
    if isinstance(err, ModelInputError):
        msg = _as_flags(msg)
        if err.field and msg.startswith(f"{err.field}:"):
            return flag_for(err.field) + msg[len(err.field) :]
        if "architecture field" in msg:
            return msg + " (use --model with a preset, or --arch FIELD=VALUE)"
    return msg


def _arch(pairs: tuple[str, ...]) -> dict[str, str | bool]:
    out: dict[str, str | bool] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise InputError("architecture", repr(p), "FIELD=VALUE, e.g. --arch layers=32")
        key = key.strip().replace("-", "_")
        if key == "gated_mlp":
            flag = value.strip().lower()
            if flag not in ("1", "true", "yes", "0", "false", "no"):
                raise InputError("architecture.gated_mlp", repr(value), "true or false")
            out[key] = flag in ("1", "true", "yes")
        else:
            out[key] = value.strip()
    return out


def _catalog(files: tuple[str, ...]) -> Catalog:
    return Catalog.load(files)


def _json_default(x: Any) -> Any:
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _dump(obj: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), indent=2, default=_json_default)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="costspec")
def cli() -> None:
    """What will this model cost to train, and on what hardware?"""


CHOICE = click.Choice
ALLOW_INCLUDE_OUTSIDE = click.option(
    "--allow-include-outside", is_flag=True,
    help="Let catalog.include name files outside the spec's repository (the nearest folder with .git above "
         "the spec, else the spec's folder).")
SET = click.option(
    "--set", "sets", multiple=True, metavar="PATH=VALUE",
    help="Override a spec value (repeatable; VALUE is YAML): --set hardware.count=512, "
         "--set 'sweep.grid.hardware.mfu=[0.4, 0.5]'.")


class _Allowed(click.ParamType[Any]):
    """A searchable degree's flag: one value, or (with --layout auto) a comma-separated list of the
    values the search may choose; choices checked here, numbers by the estimate's rules."""

    name = "value"

    def __init__(self, choices: tuple[str, ...] = ()) -> None:
        self.choices = choices

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, list):
            return value
        parts = [p.strip() for p in str(value).split(",")]
        for p in parts:
            if self.choices and p.lower() not in self.choices:
                self.fail(f"{p!r} is not one of {', '.join(self.choices)}", param, ctx)
            if not p:
                self.fail(f"{value!r} has an empty value: a value, or values separated by commas", param, ctx)
        return parts if len(parts) > 1 else parts[0]


def _param(f: registry.Field) -> str:
    """The name click passes a field's flag under: its keyword (solve.cost_usd -> solve_cost_usd)."""
    return "solve_for" if f.path == "solve.for" else f.keyword.replace(".", "_")


def _metavar(f: registry.Field) -> str:
    if f.kind == "name":
        return "NAME"
    return "X" if f.domain is registry.FRACTION else "N"


def _field_options(command: Any) -> Any:
    """The estimate command's flags, one per registry field that has one, in the registry's order."""
    return _options([f for f in registry.INPUTS if f.flag and f.command == "estimate"])(command)


def _options(fields: list[registry.Field]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with the flags of ``fields`` (registry order)."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        out: Callable[..., Any] = _add_options(command, fields)
        return out
    return decorate


def _add_options(command: Any, fields: list[registry.Field]) -> Any:
    for f in reversed(fields):
        assert f.flag is not None
        kw: dict[str, Any] = {"help": f.help if f.help is not None else f.description}
        if f.kind == "flag":  # --sp/--no-sp: not given is the default
            command = click.option(f.flag, _param(f), default=None, help=kw["help"])(command)
            continue
        if f.path == "solve.for":
            kw.update(type=CHOICE(list(registry.SOLVE_FOR)),
                      help="Solve for this unknown from the targets (each an upper bound).")
        elif f.path in registry.SEARCHABLE:
            kw.update(type=_Allowed(f.choices), metavar="|".join(f.choices) if f.choices else _metavar(f) + "[,N...]",
                      help=kw["help"] + " With --layout auto, values separated by commas are the ones searched.")
        elif f.kind in ("choice", "flag"):
            kw.update(type=CHOICE(list(f.choices)))
        else:
            kw.update(metavar=_metavar(f))
        if f.path in registry.SEARCHABLE:  # (not given: searched under --layout auto, else the default)
            kw.update(default=None, show_default=str(f.default))
        elif f.default is not None:
            kw.update(default=str(f.default), show_default=True)
        command = click.option(f.flag, _param(f), **kw)(command)
    return command


@cli.command()
@_field_options
@click.option("--arch", multiple=True, metavar="FIELD=VALUE",
              help="Architecture field (" + ", ".join((*registry.ARCHITECTURE, "gated_mlp")) + "); repeatable; "
                   "overrides the preset's.")
@click.option("--catalog", "catalog_files", multiple=True, metavar="FILE", help="Extra catalog entries (YAML/JSON); repeatable.")
@click.option("--spec", "spec_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Evaluate a one-point spec file instead of flags (- reads it from stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@SET
@ALLOW_INCLUDE_OUTSIDE
@click.pass_context
def estimate(ctx: click.Context, /, **o: Any) -> None:
    """Estimate FLOPs, GPU-hours, wall clock, cost, energy and memory for one training run.

    A model and tokens give FLOPs and memory; a --gpu with one of --mfu, --gpu-hours or
    --wall-clock-days gives time, cost and energy too.

    \b
    costspec estimate --model llama2-70b --tokens 2T
    costspec estimate --model palm-540b --tokens 780B --convention palm --gpu tpu-v4 --mfu 0.462
    costspec estimate --params 7B --tokens 134B --gpu a100-40gb --mfu 0.42 --price 2.21
    costspec estimate --model llama2-70b --gpu a100-80gb --gpu-hours 1720320 --pue 1.1 --grid-kg-per-kwh 0.385
    costspec estimate --params 7B --gpu h100 --gpus 256 --mfu 0.4 --provider lambda --solve tokens --budget-usd 1e6
    costspec estimate --model llama2-70b --gpu h100 --mfu 0.4 --recompute full --solve gpus --deadline-days 30
    """
    from costspec.estimator import estimate as run
    from costspec.breakdown import render

    if o["spec_file"]:
        _estimate_spec(ctx, o)
        return
    if o["sets"]:
        raise click.UsageError("--set overrides a spec's values: give --spec FILE (flags set the inputs otherwise)")
    targets = {f.key: o[_param(f)] for f in registry.INPUTS
               if f.section == "solve" and f.key != "for" and o[_param(f)] is not None}
    if targets and not o["solve_for"]:
        raise click.UsageError(f"{flag_for('solve.' + next(iter(targets)))} is a target: give --solve "
                               "tokens|params|gpus|mfu")
    if o["solve_for"] and not targets:
        raise click.UsageError("--solve needs a target: --budget-usd, --deadline-days, --max-gpu-hours, "
                               "--compute-flops or --max-energy-kwh")
    unknown = registry.FIELDS[registry.SOLVE_FOR[o["solve_for"]]] if o["solve_for"] else None
    if unknown is not None and o[_param(unknown)] is not None:  # the unknown's own flag: --tokens, --gpus, ...
        raise click.UsageError(f"{unknown.flag} is given, but --solve {o['solve_for']} solves for it; drop one")
    inputs: dict[str, Any] = {f.keyword: o[_param(f)] for f in registry.INPUTS
                              if f.flag and f.command == "estimate" and f.section not in ("solve", "scaling")
                              and not (f.kind == "flag" and o[_param(f)] is None)}  # (a flag not given: its default)
    inputs.update(architecture=_arch(o["arch"]), catalog=_catalog(o["catalog_files"]))
    if o["solve_for"]:
        from costspec.solver import SolveError, solve

        try:
            solution = solve(o["solve_for"], targets, **inputs)
        except SolveError as e:
            raise CostspecError(f"{flag_for(e.field)}: {_as_flags(str(e))}") from None
        if o["as_json"]:
            echo(_dump({**solution.estimate.to_dict(), "solved": _solved(solution)}))
        else:
            echo(solution.describe())
            echo(render(solution.estimate))
        return
    result = run(**inputs)
    echo(_dump(result.to_dict()) if o["as_json"] else render(result))


def _ratio(x: float) -> str:
    return f"{x:.1f}" if 0.1 <= x < 1e7 else f"{x:.3g}"


def _solved(solution: Any) -> dict[str, Any]:
    return {"for": solution.unknown, "value": solution.value, "set_by": solution.binding,
            "targets": dict(solution.targets)}


def _estimate_spec(ctx: click.Context, o: dict[str, Any]) -> None:
    from click.core import ParameterSource

    from costspec.point import evaluate
    from costspec.breakdown import render
    from costspec.spec import load

    flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts}
    clashing = [flags.get(k, k) for k in o
                if k not in ("spec_file", "as_json", "catalog_files", "allow_include_outside", "sets")
                and ctx.get_parameter_source(k) not in (ParameterSource.DEFAULT, None)]
    if clashing:
        raise click.UsageError(f"--spec takes every input from the spec; drop {', '.join(clashing)}")
    if o["catalog_files"]:
        raise click.UsageError("--spec takes its catalog from the spec (catalog: include: [FILE])")
    if o["spec_file"] == "-":  # (as validate: one spec from stdin)
        from costspec.spec import load_text
        from costspec.validation import stdin_text

        spec = load_text(stdin_text(), "<stdin>", allow_include_outside=o["allow_include_outside"], sets=o["sets"])
    else:
        spec = load(o["spec_file"], allow_include_outside=o["allow_include_outside"], sets=o["sets"])
    result = evaluate(spec)
    if o["as_json"]:
        d = result.to_dict()
        if result.solution is not None:
            d["solved"] = _solved(result.solution)
        echo(_dump(d))
        return
    if result.solution is not None:
        echo(result.solution.describe())
    echo(render(result.estimate))
    if result.planning:
        echo("Scaling")
        if "compute_flops" in result.planning:
            echo(f"  compute-optimal for C = {result.planning['compute_flops']:.4g} FLOPs (6·N·D)")
        echo(f"  tokens_per_param = {result.estimate.tokens / result.estimate.params:.4g}")
        if "loss" in result.planning:
            echo(f"  loss = {result.planning['loss']:.4f} nats/token (predicted by the fit)")
    if result.derived:
        echo("Derived")
        for k, v in result.derived.items():
            echo(f"  {k} = {v:.6g}" if isinstance(v, float) else f"  {k} = {v}")
    if result.kept is not None:
        echo("where: " + ("the point passes every condition" if result.kept else "the point fails a condition "
                                "(a sweep would drop it)"))


# The serve command's flags: the model, GPU, price and energy inputs it shares with training runs,
# then the serving section's.
_SERVE_FIELDS = [f for f in registry.INPUTS if f.flag and (f.command == "serve" or (
    f.path in registry.SERVING_SHARED and f.command == "estimate" and f.path != "energy.grid_kg_co2e_per_kwh"))]


@cli.command()
@_options(_SERVE_FIELDS)
@click.option("--arch", multiple=True, metavar="FIELD=VALUE",
              help="Architecture field (layers, d_model, heads, kv_heads, head_dim, experts, experts_per_token, "
                   "kv_latent); repeatable; overrides the preset's.")
@click.option("--catalog", "catalog_files", multiple=True, metavar="FILE", help="Extra catalog entries (YAML/JSON); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def serve(**o: Any) -> None:
    """Serve a model: KV cache, the batch that fits, TTFT, TPOT, tokens/s, $ per million tokens.

    One replica of --tp GPUs decodes --batch sequences (default: the most whose KV caches fit,
    within --max-batch and --max-tpot-s) of --input-tokens + --output-tokens each, under
    continuous batching. --demand-tokens-per-s sizes a fleet.

    \b
    costspec serve --model llama3.1-8b --gpu h100 --weights fp8 --kv fp8 --input-tokens 128 --output-tokens 2048
    costspec serve --model llama3.1-70b --gpu h100 --tp 4 --weights fp8 --input-tokens 2048 --output-tokens 256 \\
        --max-tpot-s 0.05 --provider lambda
    costspec serve --model llama3.1-70b --gpu h200 --tp 8 --input-tokens 1000 --output-tokens 500 \\
        --demand-tokens-per-s 1e5 --price 3.5
    """
    from costspec.serving import KEYWORD, render
    from costspec.serving import serve as run

    if not o["model"] and not o["params"]:
        raise click.UsageError("give --model (a preset) or --params with --arch layers=... heads=... d_model=...")
    for f in (registry.FIELDS["hardware.gpu"], registry.FIELDS["serving.input_tokens"],
              registry.FIELDS["serving.output_tokens"]):
        if o[_param(f)] is None:
            raise click.UsageError(f"give {f.flag}: {f.help or f.description}")
    kwargs: dict[str, Any] = {KEYWORD[f.path]: o[_param(f)] for f in _SERVE_FIELDS if o[_param(f)] is not None}
    arch = _arch(o["arch"])
    if "gated_mlp" in arch:
        arch.pop("gated_mlp")
    result = run(**kwargs, architecture=arch or None, catalog=_catalog(o["catalog_files"]))
    echo(_dump(result.to_dict()) if o["as_json"] else render(result))


@cli.command()
@click.option("--flops", metavar="C", help="FLOPs budget C = 6·N·D, e.g. 5.76e23.")
@click.option("--budget-usd", metavar="USD", help="Dollar budget instead of --flops (with --gpu, --mfu and a price).")
@click.option("--gpu", metavar="ID", help="Accelerator for --budget-usd.")
@click.option("--mfu", metavar="X", help="MFU for --budget-usd.")
@click.option("--price", metavar="USD", help="Price per GPU-hour for --budget-usd.")
@click.option("--provider", metavar="NAME", help="Catalog price for --budget-usd.")
@click.option("--precision", default="bf16", show_default=True,
              type=CHOICE(["fp32", "tf32", "bf16", "fp16", "fp8", "fp4"]))
@click.option("--fit", "fits", multiple=True, type=CHOICE(["hoffmann2022", "besiroglu2024", "tokens-per-param"]),
              help="Fit(s) to use (default: all three); repeatable.")
@click.option("--tokens-per-param", metavar="R", help="Ratio of the tokens-per-param rule (default 20).")
@click.option("--inference-tokens", metavar="T", help="Tokens the model will serve (prompts and outputs): the model "
              "reaching the budget's loss with the fewest training + inference FLOPs (Sardana et al. 2023).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def optimal(flops: str | None, budget_usd: str | None, gpu: str | None, mfu: str | None, price: str | None,
            provider: str | None, precision: str, fits: tuple[str, ...], tokens_per_param: str | None,
            inference_tokens: str | None, as_json: bool) -> None:
    """Compute-optimal parameters and tokens for a FLOPs or dollar budget, under each scaling fit.

    With --inference-tokens, the model of the same loss that is cheapest to train and serve them
    (a smaller model trained longer), beside the compute-optimal one.

    \b
    costspec optimal --flops 5.76e23
    costspec optimal --budget-usd 1e6 --gpu h100 --mfu 0.4 --provider lambda
    costspec optimal --flops 5.76e23 --inference-tokens 10T
    """
    from costspec import scaling
    from costspec.units import format_si, parse_number

    if (flops is None) == (budget_usd is None):
        raise click.UsageError("give --flops or --budget-usd (one of them)")
    if tokens_per_param is not None and fits and scaling.RULE not in fits:
        raise click.UsageError("--tokens-per-param is the ratio of --fit tokens-per-param")
    if len(set(fits)) < len(fits):
        raise click.UsageError("--fit: each fit once")
    if inference_tokens is not None and scaling.RULE in fits:
        raise click.UsageError("--inference-tokens needs a fit with a loss (hoffmann2022, besiroglu2024): the "
                               "tokens-per-param rule gives none to reach")
    if inference_tokens is not None and not fits:
        fits = tuple(scaling.FITS)
    lines = []
    if budget_usd is None and any(v is not None for v in (gpu, mfu, price, provider)):
        raise click.UsageError("--gpu, --mfu, --price and --provider price a --budget-usd (a --flops budget needs none)")
    if budget_usd is not None:
        if price is not None and provider is not None:
            raise click.UsageError("give --price or --provider, not both")
        if gpu is None or mfu is None or (price is None) == (provider is None):
            raise click.UsageError("--budget-usd needs --gpu, --mfu and one of --price or --provider")
        budget: dict[str, Any] = {"budget_usd": budget_usd, "gpu": gpu, "mfu": mfu, "usd_per_gpu_hour": price,
                                  "provider": provider, "precision": precision}
    else:
        budget = {"flops": flops}
    rows: list[dict[str, Any]] = []
    lifetime: list[dict[str, Any]] = []
    for fit in fits or scaling.FIT_NAMES:
        try:
            row = scaling.allocation(fit, tokens_per_param=tokens_per_param if fit == scaling.RULE else None, **budget)
            life = None if inference_tokens is None else \
                scaling.allocation(fit, inference_tokens=inference_tokens, **budget)
        except InputError as e:  # name the flag that set the budget
            field = e.field if e.field != "compute_flops" else "flops"
            raise InputError(field, e.given, e.accepted) from None
        f = scaling.FITS.get(fit)
        rows.append({"fit": fit, "params": row["params"], "tokens": row["tokens"],
                     "tokens_per_param": row["tokens_per_param"], "loss": row.get("loss"),
                     "source": f.source if f else scaling.RULE_SOURCE})
        if life is not None:
            served = life["tokens_served"]
            base = row["model_flops"] + 2 * row["params"] * served  # (the compute-optimal model serving them)
            total = life["model_flops"] + life["inference_flops"]
            lifetime.append({"fit": fit, "params": life["params"], "tokens": life["tokens"],
                             "tokens_per_param": life["tokens_per_param"], "loss": life["loss"],
                             "training_flops": life["model_flops"], "inference_flops": life["inference_flops"],
                             "lifetime_flops": total, "compute_optimal_lifetime_flops": base,
                             "saving": 1 - total / base})
    c = row["compute_flops"]
    if budget_usd is not None:
        usd = float(row["usd_per_gpu_hour"])
        lines.append(f"${parse_number(budget_usd, 'budget_usd'):,.0f} buys "
                     f"{parse_number(budget_usd, 'budget_usd') / usd:,.0f} {row['gpu']} GPU-hours at ${usd:g}/h: "
                     f"{c:.4g} FLOPs at MFU {row['mfu']:g} of {row['peak_tflops']:g} TFLOP/s ({precision} dense)")
    if as_json:
        echo(_dump({"compute_flops": c, "optimal": rows, **({"lifetime": lifetime} if lifetime else {})}))
        return
    lines.append(f"compute-optimal allocation of C = {c:.4g} FLOPs (C = 6·N·D)")
    from costspec.terminal import table

    cells = [[r["fit"], format_si(r["params"]), format_si(r["tokens"]), _ratio(r["tokens_per_param"]),
              f"{r['loss']:.4f}" if r["loss"] is not None else "-"] for r in rows]
    lines.append(table(["fit", "params", "tokens", "tokens/param", "loss"], cells,
                       right=[False, True, True, True, True], indent=2))
    if lifetime:
        served = parse_number(inference_tokens, "inference_tokens")
        lines.append(f"serving {format_si(served)} tokens over its life (2·N FLOPs each), the same loss for the "
                     "fewest training + inference FLOPs (Sardana et al. 2023):")
        cells = [[r["fit"], format_si(r["params"]), format_si(r["tokens"]), _ratio(r["tokens_per_param"]),
                  f"{r['loss']:.4f}", f"{r['training_flops']:.4g}", f"{r['inference_flops']:.4g}",
                  f"{r['lifetime_flops']:.4g}", f"{-100 * r['saving']:+.1f}%".replace("-0.0%", "+0.0%")]
                 for r in lifetime]
        lines.append(table(["fit", "params", "tokens", "tokens/param", "loss", "training FLOPs", "inference FLOPs",
                            "total", "vs compute-optimal"], cells, right=[False] + [True] * 8, indent=2))
    lines.append("sources:")
    lines.extend(f"  {r['fit']}: {r['source']}" for r in rows)
    if lifetime:
        lines.append("  lifetime: Sardana, Portes, Doubov, Frankle 2024, Beyond Chinchilla-Optimal, §2; arXiv:2401.00448")
    echo("\n".join(lines))


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--output-format", "--format", "fmt", type=CHOICE(["text", "json", "github", "sarif"]), default=None,
              help="Report format (default: github when GITHUB_ACTIONS=true, else text); sarif for code scanning.")
@click.option("--quiet", "-q", is_flag=True, help="Report problems only: no summary line (json: invalid files only).")
@SET
@ALLOW_INCLUDE_OUTSIDE
def validate(paths: tuple[str, ...], fmt: str | None, quiet: bool, sets: tuple[str, ...],
             allow_include_outside: bool) -> None:
    """Check spec files (files, folders, globs; - reads one spec from stdin) against the schema, the
    catalog and every rule a sweep would enforce. Each problem has a stable code (CS201, ...).

    Exit status: 0 when every spec is valid, 1 when any is invalid, 2 on usage errors.
    """
    from costspec.validation import run_validate

    sys.exit(run_validate(paths, fmt, allow_include_outside, quiet, sets))


def _load_plan(spec_file: str, allow_include_outside: bool, sets: tuple[str, ...]) -> Any:
    from costspec.plan import compile_spec
    from costspec.spec import load

    return compile_spec(load(spec_file, allow_include_outside=allow_include_outside, sets=sets))


@cli.command("plan")
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the compiled plan the engine receives.")
@SET
@ALLOW_INCLUDE_OUTSIDE
def plan_cmd(spec_file: str, as_json: bool, sets: tuple[str, ...], allow_include_outside: bool) -> None:
    """Show a spec's sweep: its axes, how many points, the columns and the output size. Evaluates nothing."""
    from costspec.plan import describe

    plan = _load_plan(spec_file, allow_include_outside, sets)
    echo(plan.to_json() if as_json else describe(plan))


@cli.command("sweep")
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", metavar="PATH",
              help="Output path (default: the spec's output.path, else results/<name>.<format>).")
@click.option("--format", "fmt", type=CHOICE(["parquet", "arrow", "csv"]), default=None,
              help="parquet (a folder of part files, one per thread), arrow (IPC, lz4) or csv. Default: the "
                   "spec's output.format, else parquet.")
@click.option("--threads", default=0, type=click.IntRange(min=0), help="Threads (default 0: all cores).")
@click.option("--max-points", default=1_000_000_000, show_default=True, type=click.IntRange(min=1),
              help="Refuse larger sweeps.")
@click.option("--columns", metavar="A,B,...", help="Columns to write, in order (overrides the spec's output.columns).")
@click.option("--top", type=click.IntRange(min=1), help="Keep only the K best points (per group), reduced in the engine.")
@click.option("--by", metavar="COLUMN", help="Rank by this column with --top ('-column': largest first).")
@click.option("--pareto", metavar="A,B", help="Keep only the Pareto front over these columns ('-column' to maximise).")
@click.option("--per", metavar="A,B", help="Reduce within groups of these categorical columns (gpu, model, ...).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--report", "with_report", is_flag=True,
              help="Also write the output's report (costspec report) beside it, NAME.report.html.")
@click.option("--shard", metavar="I/K", help="Evaluate only the I-th of K equal ranges of the points (1 <= I <= K), "
              "as Parquet marked as that shard (default path: NAME.shard-I-of-K.parquet); costspec merge "
              "combines the K shards into the one-machine output.")
@click.option("--partition-by", "partition_by", metavar="A,B",
              help="Partition the Parquet output by these categorical columns: hive-style folders "
                   "(gpu=H100-SXM/part-00000.parquet) that DuckDB, polars, pandas and Spark prune on (overrides "
                   "the spec's output.partition_by).")
@click.option("--executor", type=CHOICE(["local", "ray"]), default="local", show_default=True,
              help="Where the engine runs: this machine's threads, or the tasks of a Ray cluster (costspec[ray]; "
                   "the output folder must be on a filesystem every worker shares).")
@click.option("--address", metavar="ADDR", help="The Ray cluster to join (ray.init's address, e.g. auto or "
              "ray://head:10001; default: start a local one).")
@click.option("--tasks", type=click.IntRange(min=1, max=4096), help="Tasks the points are split into (default: 4 "
              "per cluster CPU; at most 4,096).")
@SET
@ALLOW_INCLUDE_OUTSIDE
def sweep_cmd(spec_file: str, output: str | None, fmt: str | None, threads: int, max_points: int,
              columns: str | None, top: int | None, by: str | None, pareto: str | None, per: str | None,
              quiet: bool, with_report: bool, shard: str | None, partition_by: str | None, executor: str,
              address: str | None, tasks: int | None, sets: tuple[str, ...], allow_include_outside: bool) -> None:
    """Evaluate a spec's sweep in parallel and write every kept point to Parquet, Arrow or CSV."""
    import signal

    received: list[int] = []

    def interrupted(signum: int, _frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt  # SIGTERM / SIGHUP clean up like Ctrl-C: no partial output

    previous = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        if with_report:
            from costspec.remote import is_uri
            from costspec.report.page import vl_convert

            if is_uri(output):
                raise click.UsageError("--report reads the output back from a local path; report on a URI's output "
                                       "after copying it (costspec report reads local files)")
            vl_convert()  # (a missing extra is said before the sweep runs)
        part = None
        if shard is not None:
            from costspec.shards import parse

            part = parse(shard)
        if executor == "local" and (address is not None or tasks is not None):
            raise click.UsageError("--address and --tasks go with --executor ray")
        if executor != "local" and part is not None:
            raise click.UsageError("--shard splits a sweep by hand, --executor across a cluster: give one")
        written = _sweep(spec_file, output, fmt, threads, max_points, columns, (top, by, pareto, per), quiet,
                         allow_include_outside, sets, part, (executor, address, tasks), partition_by)
        if with_report:
            from costspec.report import report, write_report

            path = report_path(str(written), "output", "html")
            try:
                write_report(report(written), path)
            except KeyboardInterrupt:
                click.echo(f"costspec sweep: interrupted; the output {written} was written, its report was not",
                           err=True)
                sys.exit(130)
            if not quiet:
                echo(f"report: {path}")
    except Exception:
        # An interrupt that lands inside an extension module's initialisation surfaces as whatever
        # that init makes of it (a TypeError from pyarrow's): it is still an interrupt, and the
        # writers have cleaned up on the way here.
        if received:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _output_overrides(columns: str | None, ranking: tuple[int | None, str | None, str | None, str | None]
                      ) -> dict[tuple[str, ...], tuple[Any, str]]:
    """--columns, --top/--by/--pareto/--per as values of the spec's output section: checked by the
    same rules as the file's (errors name the flag)."""
    def names(text: str) -> list[str]:
        return [c.strip() for c in text.split(",") if c.strip()]

    out: dict[tuple[str, ...], tuple[Any, str]] = {}
    if columns is not None:
        out[("output", "columns")] = (names(columns), "--columns")
    top, by, pareto, per = ranking
    if all(x is None for x in ranking):
        return out
    groups = names(per) if per is not None else None
    if pareto is not None:
        if top is not None or by is not None:
            raise click.UsageError("--pareto keeps a front, --top with --by the best points: give one reduction")
        keep: dict[str, Any] = {"pareto": names(pareto)}
        flag = "--pareto"
    elif top is None or by is None:
        raise click.UsageError("--top K goes with --by COLUMN" if top is not None or by is not None else
                               "--per groups a reduction: give --top K --by COLUMN, or --pareto A,B")
    else:
        keep, flag = {"top": top, "by": by}, "--top/--by"
    if groups is not None:
        keep["per"] = groups
    out[("output", "keep")] = (keep, flag)
    for key, f in (("top", "--top"), ("by", "--by"), ("pareto", "--pareto"), ("per", "--per")):
        if key in keep:
            out[("output", "keep", key)] = (keep[key], f)
    return out


def _sweep(spec_file: str, output: str | None, fmt: str | None, threads: int, max_points: int,
           columns: str | None, ranking: tuple[int | None, str | None, str | None, str | None],
           quiet: bool, allow_include_outside: bool, sets: tuple[str, ...] = (), shard: Any = None,
           cluster: tuple[str, str | None, int | None] = ("local", None, None), partition_by: str | None = None
           ) -> Any:
    from costspec.plan import compile_spec
    from costspec.runner import MAX_THREADS_PER_CORE, check_room, clamp_threads, cores, write
    from costspec.spec import load

    if output is not None and not output.strip():
        raise click.UsageError("-o/--output: give a file or folder name")
    overrides = _output_overrides(columns, ranking)
    if partition_by is not None:
        overrides[("output", "partition_by")] = ([c.strip() for c in partition_by.split(",") if c.strip()],
                                                 "--partition-by")
    spec = load(spec_file, overrides=overrides, allow_include_outside=allow_include_outside, sets=sets)
    if threads > MAX_THREADS_PER_CORE * cores():
        click.echo(f"costspec sweep: note: --threads {threads:,} is more than {MAX_THREADS_PER_CORE}× the "
                   f"{cores()} cores; using {MAX_THREADS_PER_CORE * cores()}", err=True)
    threads = clamp_threads(threads, warn=False)
    solving = spec.fields.get("solve.for") is not None
    if solving and spec.points == 1:  # one point: say why it has no answer, before writing anything
        from costspec.point import evaluate

        evaluate(spec)
    plan = compile_spec(spec)
    fmt = _output_format(output, fmt, plan.spec)
    name = plan.spec.name or Path(spec_file).stem
    from costspec.remote import is_uri, shown

    named = output or plan.spec.output_path
    at_uri = is_uri(named)
    if at_uri and (shard is not None or fmt != "parquet"):
        raise click.UsageError(f"{shown(named)}: an output at a URI is a Parquet folder, not a shard (costspec merge "
                               "reads local folders) or another format")
    path: Any = named if at_uri else Path(named or f"results/{name}{outputs.FORMAT_SUFFIX[fmt]}")
    if cluster[0] != "local" and fmt != "parquet":
        raise click.UsageError(f"--executor {cluster[0]} writes Parquet (a part file per task), and the format is {fmt}")
    if plan.spec.partition_by and fmt != "parquet":
        raise click.UsageError(f"a partitioned output is Parquet folders, and the format is {fmt}")
    if shard is not None:
        if plan.spec.partition_by:
            raise click.UsageError("a shard is not partitioned (costspec merge combines flat shards): drop "
                                   "--partition-by (or output.partition_by) from the shards")
        if fmt != "parquet":
            raise click.UsageError(f"--shard writes Parquet (for costspec merge), and the format is {fmt}")
        if not output:
            from costspec.shards import default_path

            path = default_path(path, shard)
    if not at_uri:
        check_room(plan, path, max_points, fmt)
    # A solving sweep where no point has an answer fails before its output replaces anything.
    if_empty = (f"no point of {spec_file} has an answer{' that passes where' if spec.where else ''} (each "
                "target impossible or contradicted); nothing written. costspec estimate --spec on one of its "
                "points says why") if solving and shard is None else None  # (a shard may have none: merge decides)
    if cluster[0] != "local":
        return _sweep_on(plan, path, cluster, quiet, if_empty)
    if not quiet and sys.stderr.isatty():
        from costspec.terminal import progress_bar

        start, end = shard.range(plan.points) if shard is not None else (0, plan.points)
        with progress_bar(end - start) as advance:
            summary = write(plan, path, fmt=fmt, threads=threads, on_progress=advance, if_empty=if_empty,
                            shard=shard)
    else:
        summary = write(plan, path, fmt=fmt, threads=threads, if_empty=if_empty, shard=shard)
    if not quiet:
        echo(_sweep_summary(summary, plan))
    return path


def _sweep_on(plan: Any, path: Any, cluster: tuple[str, str | None, int | None], quiet: bool,
              if_empty: str | None = None) -> Any:
    """The sweep on a cluster (costspec.distributed): progress across it on the driver."""
    from costspec import distributed, executors

    name, address, tasks = cluster
    ex = executors.get(name, address=address)
    try:
        if not quiet and sys.stderr.isatty():
            from costspec.terminal import progress_bar

            with progress_bar(plan.points) as advance:
                summary = distributed.sweep(plan, path, ex, tasks=tasks, on_progress=advance, if_empty=if_empty)
        else:
            summary = distributed.sweep(plan, path, ex, tasks=tasks, if_empty=if_empty)
    finally:
        ex.close()
    if not quiet:
        echo(_sweep_summary(summary, plan))
    return path


def _output_format(output: str | None, flag: str | None, spec: Any) -> str:
    """The output's format: --format, else what the path's extension names (-o out.csv writes CSV),
    else the spec's output.format, else Parquet. A --format the extension contradicts is an error."""
    from costspec.remote import is_uri, shown

    given = output or spec.output_path
    from_path = outputs.suffix_format(shown(given) if is_uri(given) else given)  # (a URI's options aside)
    if flag is not None:
        if from_path is not None and from_path != flag:
            which = f"-o {shown(output)}" if output else f"the spec's output.path {shown(spec.output_path)}"
            raise click.UsageError(f"{which} names a {from_path} file, and --format says {flag}: drop one, or change "
                                   "the extension")
        return flag
    if from_path is not None and (output or not _spec_sets_format(spec)):
        return from_path
    return str(spec.output_format or "parquet")


def _spec_sets_format(spec: Any) -> bool:
    data = spec.document.data if isinstance(spec.document.data, dict) else {}
    out = data.get("output")
    return isinstance(out, dict) and "format" in out


def _sweep_summary(s: Any, plan: Any) -> str:
    spec = plan.spec
    unknown = spec.fields.get("solve.for")
    solved = []
    if unknown is not None:
        from costspec.spec import SOLVE_TARGETS

        targets = [t for t in SOLVE_TARGETS
                   if f"solve.{t}" in spec.fields or any(a.name == f"solve.{t}" for a in spec.sweep.axes)]
        solved = [f"solved: {unknown} for {', '.join(targets)} at every point (points with no answer are "
                  f"left out)"]
    lines = solved + [
        f"points: {s.points:,} evaluated, {s.kept:,} kept",
        f"time: {s.seconds:.2f} s ({s.points_per_second:,.0f} points/s)",
        f"output: {printable(s.path)}" + (f" ({len(s.files)} part files)" if len(s.files) > 1 else ""),
    ]
    best = s.best
    if best is not None:
        from costspec.runner import distinct_by
        from costspec.terminal import table

        default: tuple[str, ...] = ("model", "params", "tokens", "gpu", "gpus", "mfu", "wall_clock_days", "gpu_hours",
                                    "cost_usd")
        if plan.searches:  # (the layout each answer runs)
            default = default[:5] + ("tensor_parallel", "pipeline_parallel", "zero") + default[5:]
        from costspec.runner import SERVING_PRICES

        key = s.ranked_by or next(k for k in ("cost_usd", "gpu_hours", "usd_per_m_tokens_served")
                                  if k in best.names)
        if key in SERVING_PRICES:
            default = ("model", "gpu", "serving_tensor_parallel", "weights_precision", "batch", "tpot_s",
                       "output_tokens_per_s_per_gpu", key)
        shown = [c for c in (spec.output_columns or default) if c in best.names]
        per = [c for c in distinct_by(plan) if c in best.names]
        # (the rows differ in what makes them distinct: show it, after the model's own columns)
        missing = [c for c in per if c not in shown]
        if missing:
            lead = [c for c in shown if c in ("model", "params", "tokens")]
            shown = lead + missing + [c for c in shown if c not in lead]
        if per == ["gpu"]:
            lines.append(f"cheapest by {key}, one row per gpu:")
        elif per:
            aside = " (the gpu count aside)" if "gpus" in best.names else ""
            lines.append(f"cheapest by {key}, one row per {', '.join(per)}{aside}:")
        else:
            lines.append(f"cheapest by {key}:")
        rows = [[_cell(c, row[c]) for c in shown] for row in best.dicts()]
        lines.append(table(shown, rows, right=[c not in _LEFT for c in shown], indent=2))
    elif "gpu_hours" not in [c.name for c in plan.columns] and not spec.output_columns \
            and not any(c.name == "tpot_s" for c in plan.columns):
        from costspec import outputs

        lines.append(f"no time or cost: {outputs.why_missing('gpu_hours', spec)} (FLOPs and memory only)")
    return "\n".join(lines)


# Columns of names, aligned left in tables (numbers align right).
_LEFT = frozenset(registry.CATEGORICAL_COLUMNS)


def _cell(col: str, v: Any) -> str:
    from costspec import outputs
    from costspec.units import format_si

    if v is None:
        return "-"
    if col in ("cost_usd", "training_cost_usd", "serving_cost_usd", "lifetime_cost_usd", "fleet_usd_per_hour"):
        return f"${v:,.0f}"
    if col.startswith("usd_per_m_"):  # (cents matter per million tokens)
        return f"${v:,.4g}"
    if col in ("params", "tokens", "gpu_hours", "active_params", "trainable_params", "tokens_served"):
        return format_si(v)
    if col in ("model_flops", "hardware_flops", "compute_flops", "inference_flops", "lifetime_flops"):
        return f"{v:.3g}"
    if col in ("tokens_per_param", "memory_gb_per_gpu", "loss", "mfu") and isinstance(v, float):
        return f"{v:.4g}"
    if col == "wall_clock_days":
        return f"{v:,.1f}" if v >= 10 else f"{v:.3g}"
    if col in outputs.WHOLE and isinstance(v, (int, float)):  # counts: thousands separators
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


@cli.command("merge")
@click.argument("output", metavar="OUT", type=click.Path())
@click.argument("shards", metavar="SHARD_DIRS...", nargs=-1, required=True, type=click.Path())
def merge_cmd(output: str, shards: tuple[str, ...]) -> None:
    """Combine the K shards of one sweep (costspec sweep --shard I/K) into the one-machine output."""
    from costspec.shards import merge

    if not output.strip():
        raise click.UsageError("OUT: give a folder name")
    m = merge(output, list(shards))
    echo(f"merged {m.shards} shard{'s' if m.shards != 1 else ''}: {m.rows:,} rows in {m.path} "
         f"({len(m.files)} part file{'s' if len(m.files) != 1 else ''})")


@cli.command("report")
@click.argument("results", metavar="RESULTS", type=click.Path())
@click.option("-o", "--output", "output", metavar="PATH",
              help="The page (default: beside RESULTS, NAME.report.html); with --format png or svg, the folder "
                   "for the images (default NAME.charts), or, with one --chart, the image's file name.")
@click.option("--chart", "charts", multiple=True, metavar="NAME",
              help="Draw only this chart (repeatable): cost_vs_params, time_cost_front, gpu_scaling, memory, "
                   "frontier, serving.")
@click.option("--format", "fmt", type=CHOICE(["html", "png", "svg"]), default="html", show_default=True,
              help="html: one self-contained page (no network needed); png or svg: an image per chart, drawn "
                   "without a browser.")
@click.option("--threads", default=0, type=click.IntRange(min=0), help="Threads when RESULTS is a spec (default: all cores).")
def report_cmd(results: str, output: str | None, charts: tuple[str, ...], fmt: str, threads: int) -> None:
    """Charts and tables of a sweep's output (Parquet, Arrow, CSV), or of a spec (swept first)."""
    from costspec.report import report, write_report

    import signal

    if output is not None and not output.strip():
        raise click.UsageError("-o/--output: give a file or folder name")
    named = {".html": "html", ".htm": "html", ".png": "png", ".svg": "svg"}.get(Path(output or "").suffix.lower())
    if named is not None and named != fmt:
        raise click.UsageError(f"-o {output} names a {named} file, and the format is {fmt}: give --format {named}, "
                               "or another path")

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM / SIGHUP clean up like Ctrl-C: nothing half-written

    previous = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        rep = report(results, charts=list(charts) or None, threads=threads)
        path = Path(output) if output else report_path(results, rep.results.kind, fmt)
        written = write_report(rep, path, fmt)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for name, why in rep.selection.left_out:
        if charts:
            click.echo(f"costspec report: note: chart {name} not drawn: {why}", err=True)
    size = sum(p.stat().st_size for p in written)
    what = f"{len(rep.charts)} chart{'s' if len(rep.charts) != 1 else ''}, {len(rep.tables)} table" + \
        ("s" if len(rep.tables) != 1 else "") if fmt == "html" else f"{len(written)} image{'s' if len(written) != 1 else ''}"
    shown = str(written[0]) if len(written) == 1 else str(path)
    echo(f"report: {shown} ({what}, {size / 1e6:.1f} MB)" if size >= 100_000 else
         f"report: {shown} ({what}, {size / 1e3:.0f} kB)")


def report_path(results: str, kind: str, fmt: str) -> Path:
    """Where a report goes by default: beside the output it reads (a spec's: under results/; a
    part file's: beside its output folder, never in it)."""
    from costspec.targets import _is_costspec_part

    src = Path(results)
    if src.name in ("", ".", ".."):
        src = Path(os.path.abspath(results))
    if kind != "spec" and _is_costspec_part(src):
        src = src.parent if src.parent.name not in ("", ".", "..") else Path(os.path.abspath(src.parent))
    stem = src.name[: -len(src.suffix)] if src.suffix else src.name
    folder = Path("results") if kind == "spec" else src.parent
    return folder / (f"{stem}.report.html" if fmt == "html" else f"{stem}.charts")


@cli.command("schema")
def schema_cmd() -> None:
    """Print the spec format's JSON Schema (draft 2020-12)."""
    from costspec.schema import schema_text

    echo(schema_text(), nl=False)


@cli.command()
@click.argument("what", type=CHOICE(["gpus", "models", "prices"]))
@click.option("--catalog", "catalog_files", multiple=True, metavar="FILE", help="Extra catalog entries (YAML/JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with every figure's source.")
def catalog(what: str, catalog_files: tuple[str, ...], as_json: bool) -> None:
    """List the catalog's GPUs, model presets or prices."""
    import dataclasses

    cat = _catalog(catalog_files)
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]
    if what == "gpus":
        items: list[Any] = list(cat.gpus)
        if as_json:
            echo(_dump([dataclasses.asdict(g) for g in items]))
            return
        precisions = ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4")
        head = ("id", *precisions, "memory GB", "reported GB", "HBM TB/s", "TDP W", "domain", "up GB/s", "out Gb/s", "name")
        rows = []

        def fig(f: Any) -> str:
            return "-" if f is None else f"{f.value:g}"

        for g in items:
            peaks = [f"{g.peak_tflops[p].value:g}" if p in g.peak_tflops else "-" for p in precisions]
            rows.append((g.id, *peaks, fig(g.memory_gb), fig(g.memory_total_gb), fig(g.bandwidth_tbps), fig(g.tdp_w), fig(g.scale_up_domain),
                         fig(g.scale_up_gb_per_s), fig(g.scale_out_gbps), g.name))
    elif what == "models":
        items = list(cat.models)
        if as_json:
            echo(_dump([dataclasses.asdict(m) for m in items]))
            return
        head = ("id", "params", "active", "layers", "d_model", "seq", "published tokens", "name")
        rows = []
        for m in items:
            a = m.architecture
            rows.append((m.id, f"{m.params / 1e9:,.2f}B", f"{m.active_params / 1e9:,.1f}B" if m.active_params else "-",
                         f"{a.get('layers', '-')}", f"{a.get('d_model', '-')}", f"{a.get('seq_len', '-')}",
                         f"{m.training['tokens'] / 1e12:g}T" if m.training.get("tokens") else "-", m.name))
    else:
        items = cat.prices
        if as_json:
            echo(_dump([dataclasses.asdict(p) for p in items]))
            return
        head = ("provider", "gpu", "$/GPU-h", "pricing", "as of", "status")
        rows = [(p.provider, p.gpu, f"{p.usd_per_gpu_hour:.2f}", p.pricing, p.as_of,
                 p.status + (" (unverified)" if p.unverified else "")) for p in items]
    from costspec.terminal import table

    echo(table(head, rows))


def fail(prog: str, message: str) -> NoReturn:
    from costspec.errors import printable

    click.echo(f"{prog}: error: {printable(message)}", err=True)
    sys.exit(2)


def _robust_streams() -> None:
    """stdout and stderr that never fail on a character: one the terminal's encoding lacks ('±' on
    an ASCII locale) is written as an escape."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: list[str] | None = None) -> None:
    _robust_streams()
    try:
        _main(argv)
    finally:
        try:
            sys.stdout.flush()
        except OSError as e:  # stdout to a full disk or a closed pipe: say so once, then stop writing there
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            click.echo(f"costspec: error: cannot write the output: {e.strerror or e}", err=True)
            sys.exit(2)


def _main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    sub = next((a for a in args if not a.startswith("-")), None)
    prog = f"costspec {sub}" if sub in cli.commands else "costspec"
    try:
        code = cli.main(args=args, prog_name="costspec", standalone_mode=False)
    except click.exceptions.UsageError as e:
        fail(prog, e.format_message().replace("\n", " "))
    except click.exceptions.Abort:  # Ctrl-C under click: every writer cleans up before this point
        click.echo(f"{prog}: interrupted; nothing was written", err=True)
        sys.exit(130)
    except click.ClickException as e:
        fail(prog, e.format_message())
    except SpecError as e:
        for err in e.errors:
            click.echo(f"{prog}: error: {err.format()}", err=True)
        sys.exit(2)
    except CostspecError as e:
        fail(prog, describe(e))
    except KeyboardInterrupt:
        click.echo(f"{prog}: interrupted; nothing was written", err=True)
        sys.exit(130)
    except OSError as e:  # writing stdout failed (a full disk, a closed pipe); files are handled where they are written
        fail(prog, f"cannot write the output: {e.strerror or e}")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

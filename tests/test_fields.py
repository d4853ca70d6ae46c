"""The field registry is the one declaration: the schema, the engine's category orders, the API's
types and defaults, the CLI's flags and the README's column table all agree with it."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

from costspec import estimator, fields, schema_gen

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_schema_is_the_generated_one() -> None:
    """Edit fields.py (or schema_gen.py), then run `python -m costspec.schema_gen`."""
    generated = schema_gen.text()
    for path in (ROOT / "schemas" / "costspec.schema.json", ROOT / "python" / "costspec" / "data" / "costspec.schema.json"):
        assert path.read_text(encoding="utf-8") == generated, f"{path} is stale: run python -m costspec.schema_gen"


def test_every_field_is_in_the_schema_and_every_schema_field_in_the_registry() -> None:
    props = schema_gen.generate()["properties"]
    in_schema = set()
    for section in fields.SECTIONS:
        for key, value in props[section]["properties"].items():
            if key == "architecture":
                in_schema |= {f"model.architecture.{k}" for k in value["properties"]}
            else:
                in_schema.add(f"{section}.{key}")
    assert in_schema == set(fields.FIELDS)


def test_category_orders_are_the_engines() -> None:
    from costspec import _native

    engine = _native.categories()
    assert tuple(engine["memory_basis"]) == fields.MEMORY_BASES
    for path, choices in fields.CHOICES.items():
        key = fields.FIELDS[path].key
        if key in engine:
            assert tuple(engine[key]) == choices, path
    assert set(engine) == {"convention", "mode", "recompute", "precision", "optimizer", "attention", "base_weights",
                           "memory_basis", "logits", "weights", "kv"}


def test_the_apis_types_and_defaults_are_the_registrys() -> None:
    for literal, name in ((estimator.Convention, "training.convention"), (estimator.Mode, "training.mode"),
                          (estimator.Recompute, "training.recompute"), (estimator.Precision, "training.precision"),
                          (estimator.Optimizer, "training.optimizer"), (estimator.Attention, "training.attention"), (estimator.Logits, "training.logits"),
                          (estimator.BaseWeights, "training.base_weights")):
        assert typing.get_args(literal) == fields.FIELDS[name].choices
    signature = inspect.signature(estimator.estimate)
    for path, default in fields.DEFAULTS.items():
        if fields.FIELDS[path].command != "estimate":
            continue
        keyword = fields.FIELDS[path].keyword
        # (what the layout search searches has no default in the API: not given, it is searched
        # under layout='auto', and the registry's default applies otherwise)
        want = "none" if path in fields.SEARCHABLE else str(default)
        assert str(signature.parameters[keyword].default).lower() == want, keyword
    for (literal, name) in ((estimator.PowerBasis, "hardware.power_basis"), (estimator.Layout, "parallelism.layout")):
        assert typing.get_args(literal) == fields.FIELDS[name].choices
    for f in fields.INPUTS:
        if f.section not in ("solve", "scaling", "serving", "lifetime") and not f.keyword.startswith("architecture."):
            assert f.keyword in signature.parameters, f.keyword


def test_serves_keywords_types_and_defaults_are_the_registrys_and_the_engines() -> None:
    from costspec import _native, serving

    signature = inspect.signature(serving.serve)
    assert typing.get_args(serving.Width) == fields.WIDTHS == fields.FIELDS["serving.weights"].choices
    for path in (*fields.SERVING, *sorted(p for p in fields.SERVING_SHARED
                                          if not p.startswith(("model.architecture.", "lifetime.")))):
        keyword = serving.KEYWORD[path]
        assert keyword in signature.parameters, keyword
        default = fields.FIELDS[path].default
        if default is not None:
            assert str(signature.parameters[keyword].default) == str(default), keyword
    engine = _native.serve_defaults()
    for key in ("mbu", "mfu_decode", "mfu_prefill", "kv_fraction", "reserved_gb"):
        assert fields.FIELDS[f"serving.{key}"].default == engine[key], key
        assert f"{engine[key]:g}" in fields.FIELDS[f"serving.{key}"].description, key  # (the stated default)


def test_every_flag_is_its_commands() -> None:
    from costspec.cli import estimate, serve

    def options(command: object) -> set[str]:
        return {o for p in command.params for o in (*getattr(p, "opts", []), *getattr(p, "secondary_opts", []))}

    by_command = {"estimate": options(estimate), "serve": options(serve)}
    for f in fields.INPUTS:
        if f.flag:
            opts = by_command[f.command]
            assert all(flag in opts for flag in f.flag.split("/")), f.flag  # (--sp/--no-sp: both)
    for path in fields.SERVING_SHARED:  # (the model, GPU, price and energy flags serve shares)
        if fields.FIELDS[path].flag and path != "energy.grid_kg_co2e_per_kwh":  # (no emissions column serves)
            assert fields.FIELDS[path].flag in by_command["serve"], path


def test_the_readme_column_table_is_the_registrys() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| column | unit | meaning |"):]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        name, unit, meaning = (c.strip() for c in line.strip("|").split("|"))
        rows.append((name.strip("`"), unit, meaning.replace("`", "")))
    expected = [(n, u, m) for n, u, m in fields.COLUMNS] + [("provider", "", "catalog provider of the price (when swept)")]
    assert [(n, u) for n, u, _ in rows] == [(n, u) for n, u, _ in expected]
    for (n, _, m), (_, _, want) in zip(rows, expected):
        assert re.sub(r"\s+", " ", m) == want, n


def test_the_engines_architecture_fields_are_the_registrys() -> None:
    from costspec import _native

    flops_in, _ = _native.stage_layouts()["flops"]
    start = flops_in.index("layers")
    assert tuple(flops_in[start:start + len(fields.ARCHITECTURE)]) == fields.ARCHITECTURE
    assert flops_in[start + len(fields.ARCHITECTURE)] == "gated_mlp"

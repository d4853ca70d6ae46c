"""The published JSON Schema (draft 2020-12), generated: the fields from the registry
(``fields.py``), the structure around them (sweep, derive, where, output, catalog, shared
definitions) from the literals below.

``python -m costspec.schema_gen`` writes it to ``schemas/costspec.schema.json`` and the package's
copy; a test fails when the committed files differ from what this module generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from costspec import fields as registry

TOP: dict[str, Any] = {'$schema': 'https://json-schema.org/draft/2020-12/schema',
 '$id': 'https://costspec.dev/schemas/costspec.schema.json',
 'title': 'costspec training spec, format version 1',
 'description': 'A training plan for costspec: the model, its tokens, the hardware and its utilisation, prices '
                'and energy, optionally swept over grids and zips, with derived values and filters. Numbers '
                "may be written with magnitude suffixes as strings ('7B', '2T', '1.5e12'); a field may be an "
                "expression over other fields when written as a string starting with '=' ('=20 * "
                "model.params')."}

HEAD: dict[str, Any] = {'$schema': {'type': 'string', 'description': 'Where an editor finds this schema (JSON files).'},
 'costspec': {'const': 1,
              'description': 'Format version of the spec. Required; 1 is the only version.',
              'x-expected': '1 (the format version)'},
 'name': {'type': 'string',
          'description': 'Short name of the plan, used in output metadata.',
          'examples': ['llama2-70b-pretrain']},
 'description': {'type': 'string',
                 'description': 'Free text: what the plan is and where its figures come from.'}}

TAIL: dict[str, Any] = {'sweep': {'type': 'object',
           'description': "Parameter sweep: the Cartesian product of the grid's axes and of each zip group.",
           'additionalProperties': False,
           'properties': {'grid': {'type': 'object',
                                   'description': 'Axis name → values. A name is a spec field (dotted, e.g. '
                                                  'hardware.count) or a new variable that expressions can use '
                                                  '(e.g. tokens_per_param).',
                                   'propertyNames': {'$ref': '#/$defs/axis_name'},
                                   'additionalProperties': {'$ref': '#/$defs/axis'},
                                   'x-expected': 'a mapping of axis name to values'},
                          'zip': {'type': 'array',
                                  'description': 'Groups of axes that advance in lock-step (e.g. a GPU with '
                                                 'its price); each group is one axis of the product.',
                                  'items': {'type': 'object',
                                            'minProperties': 1,
                                            'propertyNames': {'$ref': '#/$defs/axis_name'},
                                            'additionalProperties': {'$ref': '#/$defs/axis'},
                                            'x-expected': 'a mapping of axis name to values, all of the same '
                                                          'length'},
                                  'x-expected': 'a list of zip groups'}}},
 'derive': {'type': 'object',
            'description': 'Named expressions over inputs and earlier derived names; each becomes an output '
                           'column.',
            'propertyNames': {'$ref': '#/$defs/identifier'},
            'additionalProperties': {'type': 'string',
                                     'minLength': 1,
                                     'x-expected': "an expression such as 'training.tokens / model.params'"},
            'examples': [{'tokens_per_param': 'training.tokens / model.params'}],
            'x-expected': 'a mapping of name to expression'},
 'where': {'description': 'Boolean expressions over inputs and outputs; points failing any are dropped.',
           'anyOf': [{'type': 'string', 'minLength': 1},
                     {'type': 'array',
                      'items': {'type': 'string',
                                'minLength': 1,
                                'x-expected': "an expression such as 'wall_clock_days <= 90'"}}],
           'examples': [['wall_clock_days <= 90', 'fits']],
           'x-expected': 'an expression or a list of expressions'},
 'output': {'type': 'object',
            'description': 'Where the results go.',
            'additionalProperties': False,
            'properties': {'path': {'type': 'string',
                                    'minLength': 1,
                                    'description': 'Output file, relative to the current directory.',
                                    'examples': ['results/llama2.parquet']},
                           'format': {'enum': ['parquet', 'arrow', 'csv'],
                                      'description': 'Output format; default parquet.',
                                      'default': 'parquet'},
                           'keep': {'description': 'Reduce the sweep while it runs, keeping only the answer in '
                                                   'memory: {top: K, by: column, per: [...]} keeps the K best '
                                                   "points by a column (smallest first; '-column' for "
                                                   'largest), or {pareto: [columns], per: [...]} keeps the '
                                                   'points no other point beats in every column (each '
                                                   "minimised; '-column' to maximise), within each group of "
                                                   'the categorical columns in `per`.',
                                    'x-expected': '{top: K, by: column, per: [...]} or {pareto: [columns], '
                                                  'per: [...]}',
                                    'anyOf': [{'type': 'object',
                                               'additionalProperties': False,
                                               'required': ['top', 'by'],
                                               'properties': {'top': {'type': 'integer',
                                                                      'minimum': 1,
                                                                      'description': 'Points to keep per '
                                                                                     'group.'},
                                                              'by': {'type': 'string',
                                                                     'pattern': '^-?[A-Za-z_][A-Za-z0-9_]*$',
                                                                     'x-expected': 'a column name such as '
                                                                                   "cost_usd ('-column' for "
                                                                                   'largest first)',
                                                                     'description': 'Column to rank by; '
                                                                                    "'-column' ranks the "
                                                                                    'largest first.',
                                                                     'examples': ['cost_usd', '-mfu']},
                                                              'per': {'$ref': '#/$defs/per'}}},
                                              {'type': 'object',
                                               'additionalProperties': False,
                                               'required': ['pareto'],
                                               'properties': {'pareto': {'type': 'array',
                                                                         'minItems': 1,
                                                                         'uniqueItems': True,
                                                                         'items': {'type': 'string',
                                                                                   'pattern': '^-?[A-Za-z_][A-Za-z0-9_]*$',
                                                                                   'x-expected': 'a column '
                                                                                                 'name such as '
                                                                                                 'cost_usd '
                                                                                                 "('-column' "
                                                                                                 'to '
                                                                                                 'maximise)'},
                                                                         'description': 'Columns of the front, '
                                                                                        'each minimised '
                                                                                        "('-column' to "
                                                                                        'maximise).',
                                                                         'examples': [['cost_usd',
                                                                                       'wall_clock_days']]},
                                                              'per': {'$ref': '#/$defs/per'}}}],
                                    'examples': [{'top': 10, 'by': 'cost_usd', 'per': ['gpu']},
                                                 {'pareto': ['cost_usd', 'wall_clock_days'], 'per': ['gpu']}]},
                           'partition_by': {'type': 'array',
                                            'minItems': 1,
                                            'uniqueItems': True,
                                            'items': {'type': 'string', 'minLength': 1},
                                            'description': 'Categorical columns (gpu, model, provider, ...) '
                                                           'to partition a Parquet output by: a hive-style '
                                                           'folder level each (gpu=H100-SXM/part-00000.parquet), '
                                                           'which DuckDB, polars, pandas and Spark prune on.',
                                            'examples': [['gpu'], ['gpu', 'model']],
                                            'x-expected': 'a list of categorical column names'},
                           'columns': {'type': 'array',
                                       'minItems': 1,
                                       'uniqueItems': True,
                                       'items': {'type': 'string', 'minLength': 1},
                                       'description': 'The columns to write, in this order: output columns '
                                                      '(see the README), swept inputs, sweep variables and '
                                                      'derived names. Default: the core columns that have '
                                                      'values, then swept inputs, variables and derived names.',
                                       'examples': [['params',
                                                     'tokens',
                                                     'gpu',
                                                     'gpus',
                                                     'cost_usd',
                                                     'wall_clock_days']],
                                       'x-expected': 'a list of column names'}}},
 'catalog': {'type': 'object',
             'description': 'Catalog entries for this spec only, in the format of --catalog files, and files '
                            'to include.',
             'additionalProperties': False,
             'properties': {'gpus': {'type': 'array', 'items': {'$ref': '#/$defs/gpu_entry'}},
                            'models': {'type': 'array', 'items': {'$ref': '#/$defs/model_entry'}},
                            'prices': {'type': 'array', 'items': {'$ref': '#/$defs/price_entry'}},
                            'include': {'type': 'array',
                                        'items': {'type': 'string', 'minLength': 1},
                                        'description': 'Catalog files (YAML or JSON), relative to this '
                                                       'spec.'}}}}

DEFS: dict[str, Any] = {'quantity': {'description': "A number, a string with a magnitude suffix (K, M, B, T, P: '7B', '2T', "
                             "'1.5e12'), or an expression starting with '='.",
              'type': ['number', 'string'],
              'pattern': '^(=.+|\\s*[+-]?(\\d[\\d_]*(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?\\s*[kKmMbBgGtTpP]?\\s*)$',
              'x-expected': "a number (7B, 2T, 1.5e12) or an expression starting with '='"},
 'expression': {'type': 'string',
                'pattern': '^=.+',
                'description': "An expression over other fields, e.g. '=20 * model.params'."},
 'choice': {'description': "A name, or an expression starting with '='."},
 'identifier': {'type': 'string',
                'pattern': '^[A-Za-z_][A-Za-z0-9_]*$',
                'x-expected': 'a name of letters, digits and underscores'},
 'axis_name': {'type': 'string',
               'pattern': '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$',
               'x-expected': 'a field such as hardware.count, or a new variable name'},
 'axis_values': {'type': 'array',
                 'minItems': 1,
                 'items': {'type': ['number', 'string', 'boolean']},
                 'x-expected': 'a non-empty list of values (an empty axis leaves the sweep with no points)'},
 'axis': {'description': 'Axis values: a list, {values: [...]}, {linspace: [a, b], num: n} (evenly spaced), '
                         '{geomspace: [a, b], num: n} (geometric from a to b), {logspace: [a, b], num: n} (10^a to '
                         '10^b: base-10 exponents, as numpy) or {range: [start, stop, step]} (stop excluded). The '
                         'spaces include both ends, exactly.',
          'x-expected': 'a list, or {values}, {linspace, num}, {geomspace, num}, {logspace, num} or {range}',
          'anyOf': [{'$ref': '#/$defs/axis_values'},
                    {'type': 'object',
                     'additionalProperties': False,
                     'required': ['values'],
                     'properties': {'values': {'$ref': '#/$defs/axis_values'}}},
                    {'type': 'object',
                     'additionalProperties': False,
                     'required': ['linspace', 'num'],
                     'properties': {'linspace': {'$ref': '#/$defs/pair'},
                                    'num': {'type': 'integer', 'minimum': 1}}},
                    {'type': 'object',
                     'additionalProperties': False,
                     'required': ['geomspace', 'num'],
                     'properties': {'geomspace': {'$ref': '#/$defs/pair'},
                                    'num': {'type': 'integer', 'minimum': 1}}},
                    {'type': 'object',
                     'additionalProperties': False,
                     'required': ['logspace', 'num'],
                     'properties': {'logspace': {'$ref': '#/$defs/pair'},
                                    'num': {'type': 'integer', 'minimum': 1}}},
                    {'type': 'object',
                     'additionalProperties': False,
                     'required': ['range'],
                     'properties': {'range': {'type': 'array',
                                              'minItems': 2,
                                              'maxItems': 3,
                                              'items': {'$ref': '#/$defs/quantity'},
                                              'x-expected': '[start, stop] or [start, stop, step]'}}}]},
 'per': {'type': 'array',
         'items': {'type': 'string'},
         'uniqueItems': True,
         'description': 'Categorical columns (gpu, model, provider, precision, ...) to reduce within.',
         'examples': [['gpu']]},
 'pair': {'type': 'array',
          'minItems': 2,
          'maxItems': 2,
          'items': {'$ref': '#/$defs/quantity'},
          'x-expected': '[start, end]'},
 'figure': {'description': 'A number, or {value, status, src, unverified}.',
            'x-expected': 'a number or {value, status, src}',
            'anyOf': [{'type': 'number'},
                      {'type': 'object',
                       'additionalProperties': False,
                       'required': ['value'],
                       'properties': {'value': {'type': 'number'},
                                      'status': {'type': 'string'},
                                      'src': {'type': 'string'},
                                      'unverified': {'type': 'boolean'}}}]},
 'gpu_entry': {'type': 'object',
               'additionalProperties': False,
               'required': ['id', 'peak_tflops'],
               'properties': {'id': {'type': 'string', 'minLength': 1},
                              'name': {'type': 'string'},
                              'aliases': {'type': 'array', 'items': {'type': 'string'}},
                              'vendor': {'type': 'string'},
                              'arch': {'type': 'string'},
                              'year': {'type': 'integer'},
                              'reference_id': {'type': 'string'},
                              'notes': {'type': 'string'},
                              'peak_tflops': {'type': 'object',
                                              'description': 'Dense peak TFLOP/s per precision (never the '
                                                             "'with sparsity' figure).",
                                              'minProperties': 1,
                                              'additionalProperties': False,
                                              'properties': {'fp32': {'$ref': '#/$defs/figure'},
                                                             'tf32': {'$ref': '#/$defs/figure'},
                                                             'bf16': {'$ref': '#/$defs/figure'},
                                                             'fp16': {'$ref': '#/$defs/figure'},
                                                             'fp8': {'$ref': '#/$defs/figure'},
                                                             'fp4': {'$ref': '#/$defs/figure'}}},
                              'memory_gb': {'$ref': '#/$defs/figure'},
                              'memory_total_gb': {'$ref': '#/$defs/figure'},
                              'tdp_w': {'$ref': '#/$defs/figure'},
                              'system_power_w': {'$ref': '#/$defs/figure'},
                              'scale_up_domain': {'$ref': '#/$defs/figure'},
                              'scale_up_gb_per_s': {'$ref': '#/$defs/figure'},
                              'scale_out_gbps': {'$ref': '#/$defs/figure'},
                              'network_system': {'type': 'string'},
                              'bandwidth_tbps': {'$ref': '#/$defs/figure'}}},
 'model_entry': {'type': 'object',
                 'additionalProperties': False,
                 'required': ['id', 'params'],
                 'properties': {'id': {'type': 'string', 'minLength': 1},
                                'name': {'type': 'string'},
                                'aliases': {'type': 'array', 'items': {'type': 'string'}},
                                'params': {'type': 'number', 'exclusiveMinimum': 0},
                                'active_params': {'type': ['number', 'null'], 'exclusiveMinimum': 0},
                                'architecture': {'type': 'object',
                                                 'additionalProperties': False,
                                                 'properties': {'layers': {'type': 'number',
                                                                           'exclusiveMinimum': 0},
                                                                'd_model': {'type': 'number',
                                                                            'exclusiveMinimum': 0},
                                                                'heads': {'type': 'number',
                                                                          'exclusiveMinimum': 0},
                                                                'kv_heads': {'type': 'number',
                                                                             'exclusiveMinimum': 0},
                                                                'head_dim': {'type': 'number',
                                                                             'exclusiveMinimum': 0},
                                                                'ffn_dim': {'type': 'number',
                                                                            'exclusiveMinimum': 0},
                                                                'vocab': {'type': 'number',
                                                                          'exclusiveMinimum': 0},
                                                                'seq_len': {'type': 'number',
                                                                            'exclusiveMinimum': 0},
                                                                'experts': {'type': 'number',
                                                                            'exclusiveMinimum': 0},
                                                                'experts_per_token': {'type': 'number',
                                                                                      'exclusiveMinimum': 0},
                                                                'gated_mlp': {'type': 'boolean'}}},
                                'training': {'type': 'object'},
                                'source': {'type': 'string'},
                                'status': {'type': 'string'},
                                'unverified': {'type': 'boolean'},
                                'field_status': {'type': 'object'},
                                'notes': {'type': 'string'}}},
 'price_entry': {'type': 'object',
                 'additionalProperties': False,
                 'required': ['provider', 'gpu', 'usd_per_gpu_hour'],
                 'properties': {'provider': {'type': 'string', 'minLength': 1},
                                'gpu': {'type': 'string', 'minLength': 1},
                                'usd_per_gpu_hour': {'type': 'number', 'minimum': 0},
                                'pricing': {'type': 'string'},
                                'as_of': {'type': 'string'},
                                'src': {'type': 'string'},
                                'status': {'type': 'string'},
                                'product': {'type': 'string'},
                                'region': {'type': ['string', 'null']},
                                'unverified': {'type': 'boolean'},
                                'gpus_per_instance': {'type': 'integer'},
                                'usd_per_instance_hour': {'type': 'number'},
                                'as_of_text': {'type': 'string'}}}}

SECTIONS: dict[str, Any] = {'model': {'type': 'object',
           'description': 'The model: a catalog preset, or a parameter count with an optional architecture '
                          "(fields given here override the preset's).",
           'additionalProperties': False},
 'training': {'type': 'object',
              'description': 'What is trained, on how many tokens, and how FLOPs are counted.',
              'additionalProperties': False},
 'hardware': {'type': 'object',
              'description': 'The accelerator, how many, and how well they are used. Give one of mfu, '
                             'gpu_hours or wall_clock_days (with count), here or in a sweep.',
              'additionalProperties': False},
 'price': {'type': 'object',
           'description': 'What a GPU-hour costs: a price, or a catalog provider (provider/tier picks a tier, '
                          'e.g. gcp/spot).',
           'additionalProperties': False},
 'energy': {'type': 'object', 'description': 'Energy and emissions.', 'additionalProperties': False},
 'parallelism': {'type': 'object',
                 'description': 'Parallel layout, for the memory model.',
                 'additionalProperties': False},
 'serving': {'type': 'object',
             'description': 'Serving the model: one replica of serving.tensor GPUs decodes batch sequences of '
                            'input_tokens + output_tokens at a time under continuous batching; prefill is '
                            'compute-bound, decode a roofline of HBM reads against FLOPs. Gives TTFT, TPOT, '
                            'tokens/s, KV cache, the batch that fits, $ per million tokens and joules per token.',
             'additionalProperties': False},
 'lifetime': {'type': 'object',
              'description': "A model's whole life: the inference it serves after training, as tokens_served or "
                             'requests_per_day × days. Gives inference and lifetime FLOPs, and with a serving '
                             'section and prices, serving and lifetime cost. With scaling (a parametric fit and a '
                             'budget), the model is the one reaching the compute-optimal loss with the fewest '
                             'training + inference FLOPs (Sardana et al. 2023).',
              'additionalProperties': False},
 'solve': {'type': 'object',
           'description': 'Solve for one unknown so that every target is met; targets are upper bounds, and '
                          'the answer is the most tokens or parameters, or the fewest GPUs, or the lowest MFU, '
                          'that meets them all. GPU counts are whole multiples of TP·PP and at least the '
                          'memory minimum. In a sweep, points with no answer are left out.',
           'additionalProperties': False,
           'required': ['for']},
 'scaling': {'type': 'object',
             'description': 'Compute-optimal scaling. fit selects the loss fit L(N, D) = E + A/N^alpha + '
                            'B/D^beta (hoffmann2022: Chinchilla approach 3 as printed; besiroglu2024: its '
                            'replication) or the tokens-per-param rule. With compute_flops or budget_usd, '
                            'model.params and training.tokens are the compute-optimal allocation of C = 6·N·D; '
                            'a parametric fit adds the loss column.',
             'additionalProperties': False,
             'required': ['fit']}}

ARCHITECTURE: dict[str, Any] = {'type': 'object',
 'description': 'Transformer shape, needed by the palm and megatron FLOPs conventions, selective '
                'recomputation, LoRA by rank and the activation-memory model.',
 'additionalProperties': False}


def field_schema(f: registry.Field) -> dict[str, Any]:
    """One field's schema, from its kind, description, unit, domain, choices and examples."""
    out: dict[str, Any]
    description = f.description + (f" Unit: {f.unit}." if f.unit else "")
    if f.kind == "number":
        out = {"$ref": "#/$defs/quantity", "description": description}
        if f.examples:
            out["examples"] = list(f.examples)
        out.update(f.domain.schema if f.domain else {})
    elif f.kind == "name":
        out = {"$ref": "#/$defs/choice", "description": description,
               "anyOf": [{"type": "string", "pattern": "^[^=]"}, {"$ref": "#/$defs/expression"}]}
        if f.examples:
            out["examples"] = list(f.examples)
        out["x-expected"] = "a catalog name or an expression starting with '='"
    elif f.kind == "choice":
        planning = f.section in ("solve", "scaling")  # (names of what to do: never expressions)
        out = {"$ref": "#/$defs/choice", "description": description,
               "anyOf": [{"enum": list(f.choices)}] + ([] if planning else [{"$ref": "#/$defs/expression"}])}
        if f.default is not None:
            out["default"] = f.default
        out["x-expected"] = "one of " + ", ".join(f.choices)
    else:  # a flag
        out = {"type": "boolean", "description": description}
    for k, v in f.schema.items():  # a field's own keywords win (None removes one)
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    if f.path in registry.SEARCHABLE:  # a list: the values the layout search may choose
        one = {k: v for k, v in out.items() if k not in ("description", "examples", "default")}
        expected = out.get("x-expected", "a number (7B, 2T, 1.5e12) or an expression starting with '='")
        example = ", ".join(f.choices[:2]) if f.kind == "choice" else "1, 2, 4, 8"
        out = {"description": description + " Under parallelism.layout auto, a list gives the values the "
               f"search may choose (e.g. [{example}]).",
               **{k: out[k] for k in ("examples", "default") if k in out},
               # (a choice's branches stay at the top, so a scalar's error reads as before)
               "anyOf": [*(one["anyOf"] if f.kind == "choice" else [one]),
                         {"type": "array", "minItems": 1, "maxItems": 256, "items": one}],
               **({"$ref": one["$ref"]} if f.kind == "choice" and "$ref" in one else {}),
               "x-expected": expected + ", or (with layout auto) a list of them"}
    return out


def generate() -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for name in registry.SECTIONS:
        props: dict[str, Any] = {}
        for f in registry.INPUTS:
            if f.section != name:
                continue
            if f.key.startswith("architecture."):
                arch = props.setdefault("architecture", {**ARCHITECTURE, "properties": {}})
                arch["properties"][f.key.split(".", 1)[1]] = field_schema(f)
            else:
                props[f.key] = field_schema(f)
        if name == "model":  # (the architecture after the model's own fields)
            props["architecture"] = props.pop("architecture")
        sections[name] = {**SECTIONS[name], "properties": props}
    return {**TOP, "type": "object", "additionalProperties": False, "required": ["costspec", "model"],
            "properties": {**HEAD, **sections, **TAIL}, "$defs": DEFS}


def text() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the schema where it is published: schemas/ and the package's data/."""
    root = Path(__file__).resolve().parents[2]
    for path in (root / "schemas" / "costspec.schema.json", Path(__file__).parent / "data" / "costspec.schema.json"):
        path.write_text(text(), encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

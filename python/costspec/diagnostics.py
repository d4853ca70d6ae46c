"""Diagnostic codes: every problem a spec check reports has a stable code (``CS201 unknown-key``),
listed here once with its name and summary, and in the README.

A problem's code follows from what it says (the table below, first match wins), so each check
keeps its message where it is written and the codes stay in one place; a test runs the invalid
corpus and fails on any problem without a specific code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str
    regex: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled regex, compiled when a message is first classified (compiling the table's
        forty patterns took 6 ms of every ``costspec validate``, most of which report no problem)."""
        return _compiled(self.regex)


_compiled = cache(re.compile)


def _c(code: str, name: str, summary: str, pattern: str) -> Code:
    return Code(code, name, summary, pattern)


CODES: tuple[Code, ...] = (
    # The file and its YAML.
    _c("CS101", "yaml-syntax", "The file is not valid YAML 1.2 (or JSON).", r"^YAML (syntax|the reader)"),
    _c("CS102", "duplicate-key", "A mapping has the same key twice.", r"^duplicate key"),
    _c("CS103", "unsupported-tag", "A YAML tag or node costspec does not read.", r"^unsupported (tag|YAML node)"),
    _c("CS104", "unreadable-file", "The file cannot be read: missing, too large, not UTF-8, not a regular file.",
       r"^(cannot read|not UTF-8|the file is|embedded null)"),
    _c("CS105", "document-limits", "Aliases, nesting or size beyond the limits.",
       r"(expands to more than|nesting deeper|recursive alias|nested too deeply|refers to a node that contains)"),
    _c("CS106", "malformed-scalar", "A number or boolean YAML cannot read, or one beyond the float range.",
       r"^(malformed (number|boolean)|the number .* is beyond|a number beyond the float range)"),
    _c("CS107", "not-a-spec", "The document is not a mapping of spec sections.", r"^a spec is a mapping"),
    _c("CS108", "bad-setting", "A --set PATH=VALUE that does not parse, or whose path leads nowhere in the spec.",
       r"^(a setting is PATH=VALUE|the value is not YAML|.* is a list of \d+ items?: name one|.* holds a value, "
       r"not a mapping|an empty name in the path)"),
    # The schema.
    _c("CS201", "unknown-key", "A key the format does not have (with the closest one).", r"^unknown key"),
    _c("CS202", "missing-key", "A required key is missing.", r"^missing required key"),
    _c("CS203", "wrong-type", "A value of the wrong type.", r"^wrong type"),
    _c("CS204", "not-accepted", "A value outside a fixed set of choices.", r"^not an accepted value"),
    _c("CS205", "out-of-range", "A number outside the field's domain.", r"^out of range"),
    _c("CS206", "malformed-value", "A value that does not have the field's form.",
       r"^(malformed value|invalid value|invalid name)"),
    _c("CS207", "list-items", "A list with repeated, too few or too many items.",
       r"^(an item is repeated|too few items|too many items)"),
    # Values and expressions.
    _c("CS301", "not-a-number", "A number field holds something else, or a non-finite number.",
       r"^not a (finite )?number"),
    _c("CS302", "bad-expression", "An expression that does not parse or uses what expressions may not.",
       r"^bad expression"),
    _c("CS303", "unknown-name", "An expression names something the spec does not have.",
       r"^unknown name .* in expression"),
    _c("CS304", "name-not-number", "An expression over a name or choice, or an expression where a name goes.",
       r"(is a name, not a number|not an expression \(expressions compute numbers\))"),
    _c("CS305", "dependency-loop", "Expressions that depend on themselves.", r"depends on itself"),
    _c("CS306", "no-value", "A condition or column on a value the spec does not have (no price, no count...).",
       r"(has no value in this spec|hides an input or output)"),
    # The sweep.
    _c("CS401", "bad-axis", "A sweep axis that is not one, has no values, or holds expressions.",
       r"^(not a sweep axis|a sweep's values are plain|a sweep axis with no values|geomspace ends|a range step of 0"
       r"|this range has no values)"),
    _c("CS402", "axis-too-large", "An axis or a sweep too large to index, or beyond the float range.",
       r"(an axis may have at most|has more than .* values|a point index can count|further apart than the float"
       r"|spans beyond the float range|logspace takes base-10 exponents)"),
    _c("CS403", "zip-lengths", "Axes of one zip group with different lengths.", r"^zip group"),
    _c("CS404", "axis-name", "An axis swept twice, set and swept, or named like a column or an unknown field.",
       r"(is swept twice|both set here and swept|has the name of an output column|^unknown field)"),
    _c("CS405", "axis-values", "A generated axis whose values the field does not take.",
       r"(the axis generates|takes whole numbers|takes names, not generated)"),
    _c("CS406", "cannot-sweep", "A planning field that cannot be swept.", r"cannot be swept"),
    # The catalog.
    _c("CS501", "unknown-catalog-name", "An unknown GPU, model preset or provider (with the closest ones).",
       r"^unknown (GPU|model preset|provider)"),
    _c("CS502", "no-peak", "A GPU with no dense peak at the precision.", r"has no \w+ peak"),
    _c("CS503", "no-price", "A provider with no price for a GPU.", r"price for"),
    _c("CS504", "catalog-file", "A catalog file or entry costspec cannot use.",
       r"^(cannot use catalog file|bad catalog entry|the include path)"),
    _c("CS505", "include-outside", "A catalog include outside the spec's repository.", r"leads outside"),
    _c("CS506", "missing-figure", "A GPU whose catalog entry lacks a figure the run needs (system power, network).",
       r"(the catalog has no system power|in the catalog, which (the step-time model|serving)( with TP > 1| with (pipeline stages|expert all-to-alls) beyond its scale-up domain)? needs)"),
    # What the inputs say together.
    _c("CS601", "missing-input", "An input the model needs is missing.",
       r"^(give (a model|hardware\.gpu|training\.tokens|serving\.|lifetime\.(days|requests))|mode lora needs|wall_clock_days needs|epochs multiply"
       r"|[\w.]+ needs hardware\.gpu)|needs architecture fields?|auto needs hardware\.count"),
    _c("CS602", "duration", "More than one of mfu, gpu_hours and wall_clock_days.", r"^give one of hardware\.mfu"),
    _c("CS603", "conflicting-inputs", "Inputs that cannot be given together.",
       r"(not both|sizes LoRA adapters|does not divide|stores LoRA's frozen base|cannot be combined"
       r"|wider than the scale-up domain|above the server's batch limit|need weights of at most 8 bits)"),
    _c("CS604", "search-space", "A list of allowed layout values the search cannot use: under an explicit layout, "
       "or with an expression.", r"(is for the layout search|an allowed value is a plain value)"),
    # Planning.
    _c("CS701", "solve", "A solve with no target, no unique answer, or a target it cannot meet.",
       r"(nothing to solve|no unique answer|solving for|solved for|solve\.for|needs a price|a deadline needs"
       r"|fixes nothing|needs the run's duration)"),
    _c("CS702", "scaling", "Compute-optimal scaling given what it chooses, or without what it needs.",
       r"(belongs to the tokens-per-param|allocates a budget|compute-optimal|a dollar budget)"),
    # Outputs.
    _c("CS801", "output", "An output column, ranking, group, name or path costspec cannot write.",
       r"(unknown column|cannot rank by|cannot group by|plain file name|the output path)"),
    # One-point evaluation.
    _c("CS901", "one-point", "estimate --spec takes one point.", r"estimate takes one point"),
)
BY_CODE: dict[str, Code] = {c.code: c for c in CODES}
UNCLASSIFIED = Code("CS000", "other", "A problem without a more specific code.", "")


def classify(message: str) -> Code:
    """The code of a problem, from its message."""
    return next((c for c in CODES if c.pattern.search(message)), UNCLASSIFIED)

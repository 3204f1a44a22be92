"""``--schema``: what shape the answer must have, and whether an answer has it.

Pure (standard library only). Two parts:

- :func:`load` turns the option's value into a JSON Schema: a file (``receipt.json``), inline
  JSON (``'{"type": "object", ...}'``), or the short form ``'total: number, date: string,
  vendor'`` (:func:`parse_fields`). The schema is sent as the API's structured output
  (``output_config.format``), so the API constrains the answer to it.
- :func:`check` parses an answer and validates it against the schema: the list of problems, each
  naming where (``$.items[0].price``) and what was expected. The API decodes under the schema, so
  what this catches in practice is an answer cut short by ``--max-tokens`` or a refusal; the
  validator covers the keywords structured outputs accept (type, properties, required,
  additionalProperties, items, enum, const, anyOf/allOf/oneOf, local ``$ref``, the numeric,
  length and item-count bounds, pattern) and ignores the rest (``format``, annotations). It is
  checked against the ``jsonschema`` package in the tests; not depending on it at run time keeps
  four packages and 150 ms of imports out of every structured request.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

Schema = dict[str, Any]

#: The types of the short form (``name: TYPE``, ``name: TYPE[]`` for a list of them).
FIELD_TYPES: Final = ("string", "number", "integer", "boolean")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class SchemaError(ValueError):
    """The ``--schema`` value cannot be used: one sentence that says why and what to do."""


# --------------------------------------------------------------------------------------------------
# Reading the option
# --------------------------------------------------------------------------------------------------


def load(value: str) -> Schema:
    """The JSON Schema that ``--schema VALUE`` names. SchemaError."""
    text = value.strip()
    if not text:
        raise SchemaError("the schema is empty: give fields ('total: number, vendor') or a file")
    if text.startswith("{"):
        return _from_json(text, "the inline schema")
    path = Path(value)
    if path.suffix.lower() == ".json" or path.is_file():
        from vision_cli import fsutil, limits  # lazy: only a schema in a file needs them

        try:
            raw = fsutil.read_small_text(path, limits.MESSAGES_REQUEST_MAX_BYTES)
        except FileNotFoundError:
            raise SchemaError(f"no such schema file: {value}") from None
        except (OSError, ValueError) as exc:  # ValueError: too long, or not UTF-8
            raise SchemaError(f"cannot read the schema file {value} ({exc})") from None
        return _from_json(raw, value)
    return parse_fields(text)


def _from_json(text: str, where: str) -> Schema:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SchemaError(f"{where} is not valid JSON ({_reason(exc)})") from None
    if not isinstance(doc, dict):
        raise SchemaError(f"{where} is not a JSON Schema object: it must be {{...}}")
    if not doc:
        # {} constrains nothing: refused here rather than sent (a paid answer with no shape,
        # which structured outputs are not for) or left out of the request and the answer
        # then checked anyway.
        raise SchemaError(
            f"{where} is {{}}, which asks for no shape at all: give its fields "
            "('total: number, vendor') or a schema with properties, or drop --schema for a "
            "free answer"
        )
    if doc.get("type", "object") != "object":
        raise SchemaError(
            f"{where} describes a {doc.get('type')}, and an answer is a JSON object: wrap it in "
            '{"type": "object", "properties": {...}}'
        )
    problem = _first_problem(doc)
    if problem is not None:
        raise SchemaError(f"{where}: {problem}")
    return doc


def _reason(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def unchecked_patterns(schema: Mapping[str, Any]) -> list[str]:
    r"""The schema's ``pattern`` values that Python's ``re`` cannot read even in its own words
    (JSON Schema's patterns are ECMA-262's: ``\p{L}``, for one): answers are not checked
    against them here, though the API still decodes under them. The caller says so."""
    return sorted({p for p in _patterns(schema) if _compiled(p) is None})


def _patterns(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, Mapping):
        if isinstance(node.get("pattern"), str):
            found.append(node["pattern"])
        for value in node.values():
            found += _patterns(value)
    elif isinstance(node, list):
        for value in node:
            found += _patterns(value)
    return found


#: ECMA-262's named groups and back-references in Python's words.
_ECMA_NAMES: Final = (
    (re.compile(r"\(\?<(?=[A-Za-z_])"), "(?P<"),
    (re.compile(r"\\k<([A-Za-z_][A-Za-z0-9_]*)>"), r"(?P=\1)"),
)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    r"""``pattern`` (ECMA-262, as JSON Schema's) compiled by Python's ``re``: named groups are
    translated; None when ``re`` cannot read it (Unicode properties such as ``\p{L}``, or a
    pattern that is not one at all, which the API then refuses before anything is paid)."""
    translated = pattern
    for ecma, python in _ECMA_NAMES:
        translated = ecma.sub(python, translated)
    try:
        return re.compile(translated)
    except (re.error, RecursionError, OverflowError):
        return None


# -- the schema's own shape, checked before anything is sent --------------------------------------

#: Keywords whose value is a list of subschemas applied to the same value.
_SAME_VALUE: Final = ("allOf", "anyOf", "oneOf")
#: Keywords whose value is a count (a non-negative integer).
_COUNTS: Final = ("minLength", "maxLength", "minItems", "maxItems")
#: JSON Schema's type names.
_TYPES: Final = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def _first_problem(root: Mapping[str, Any]) -> str | None:
    """Why ``root`` cannot be used to check an answer, or None: a keyword the checker reads
    holding a value of the wrong kind, a ``$ref`` that is not local or points nowhere, or
    subschemas that refer to each other without a step into the value (they could never be
    checked, nor decoded). Found before any image is read, so nothing is paid for an answer
    that could not be checked."""
    seen: dict[int, Mapping[str, Any]] = {}
    stack: list[tuple[Any, str]] = [(root, "#")]
    while stack:
        node, at = stack.pop()
        if isinstance(node, bool) or id(node) in seen:
            continue
        if not isinstance(node, Mapping):
            return f"{at} is not a schema (an object, or true/false)"
        seen[id(node)] = node
        problem = _keyword_problem(node, at, root)
        if problem is not None:
            return problem
        stack += _subschemas(node, at)
    return _loop(root, list(seen.values()))


def _keyword_problem(node: Mapping[str, Any], at: str, root: Mapping[str, Any]) -> str | None:
    kinds = node.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
            return f"{at}/type is {json.dumps(kinds)}, not one of {', '.join(sorted(_TYPES))}"
    for word in _COUNTS:
        value = node.get(word)
        if value is not None and (type(value) is not int or value < 0):
            return f"{at}/{word} is {json.dumps(value)}, not a whole number of 0 or more"
    for word in _BOUNDS:
        value = node.get(word)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{at}/{word} is {json.dumps(value)}, not a number"
    checks = {
        "properties": isinstance(node.get("properties", {}), Mapping),
        "required": isinstance(node.get("required", []), list)
        and all(isinstance(n, str) for n in node.get("required", [])),
        "enum": isinstance(node.get("enum", []), list),
        "prefixItems": isinstance(node.get("prefixItems", []), list),
        "pattern": isinstance(node.get("pattern", ""), str),
        **{
            w: isinstance(node.get(w, [True]), list) and bool(node.get(w, [True]))
            for w in _SAME_VALUE
        },
    }
    for word, right in checks.items():
        if not right:
            return (
                f"{at}/{word} is {json.dumps(node[word])[:60]}: not what JSON Schema allows there"
            )
    if "$ref" in node:
        try:
            _resolve(node["$ref"] if isinstance(node["$ref"], str) else repr(node["$ref"]), root)
        except Mismatch as exc:
            return f"{at}/$ref: {exc}"
    return None


def _subschemas(node: Mapping[str, Any], at: str) -> list[tuple[Any, str]]:
    subs: list[tuple[Any, str]] = []
    for word in ("properties", "$defs", "definitions"):
        members = node.get(word)
        if isinstance(members, Mapping):
            subs += [(sub, f"{at}/{word}/{name}") for name, sub in members.items()]
    for word in ("items", "additionalProperties"):
        if word in node:
            subs.append((node[word], f"{at}/{word}"))
    for word in ("prefixItems", *_SAME_VALUE):
        subs += [(sub, f"{at}/{word}/{i}") for i, sub in enumerate(node.get(word, ()))]
    return subs


#: The longest chain of ``$ref`` (and ``allOf``/``anyOf``/``oneOf``) applied to one value that a
#: schema may hold: the check follows it on Python's stack, and real schemas hold a few.
MAX_REF_CHAIN: Final = 100


_TOO_LONG: Final = f"a chain of $ref longer than {MAX_REF_CHAIN} schemas: it cannot be checked"


def _loop(root: Mapping[str, Any], nodes: list[Mapping[str, Any]]) -> str | None:
    """A ``$ref`` (or ``allOf``/``anyOf``/``oneOf``) chain from one of ``nodes`` back to a
    schema already on it, with the same value (checking it would never end), or one longer than
    :data:`MAX_REF_CHAIN`."""
    depth: dict[int, int] = {}  # the longest chain from each node already measured

    def visit(node: Any, path: list[int], via: str) -> str | int:
        if not isinstance(node, Mapping):
            return 0
        if id(node) in depth:
            return depth[id(node)]
        if id(node) in path:
            return f"{via} leads back to itself without a step into the value: it can never be met"
        if len(path) >= MAX_REF_CHAIN:
            return _TOO_LONG
        path.append(id(node))
        targets: list[tuple[Any, str]] = []
        if isinstance(node.get("$ref"), str):
            targets.append((_resolve(node["$ref"], root), f"$ref {node['$ref']!r}"))
        for word in _SAME_VALUE:
            targets += [(sub, via) for sub in node.get(word, ())]
        longest = 0
        for target, how in targets:
            found = visit(target, path, how)
            if isinstance(found, str):
                return found
            longest = max(longest, found)
        path.pop()
        if longest + 1 > MAX_REF_CHAIN:
            return _TOO_LONG
        depth[id(node)] = longest + 1
        return longest + 1

    for node in nodes:
        found = visit(node, [], "the schema")
        if isinstance(found, str):
            return found
    return None


def parse_fields(text: str) -> Schema:
    """The short form: ``name[: type][, ...]``. SchemaError naming the field that is wrong."""
    root = _object()
    for part in text.split(","):
        field = part.strip()
        if not field:
            raise SchemaError(f"an empty field in {text!r}: separate fields with single commas")
        name, _, kind = (s.strip() for s in field.partition(":"))
        kind = kind or "string"
        array = kind.endswith("[]")
        base = kind[:-2].strip() if array else kind
        if base not in FIELD_TYPES:
            raise SchemaError(
                f"unknown type {kind!r} of field {name!r}: use one of {', '.join(FIELD_TYPES)} "
                "(or TYPE[] for a list)"
            )
        leaf: Schema = {"type": base}
        if array:
            leaf = {"type": "array", "items": leaf}
        _put(root, name, leaf)
    return root


def _object() -> Schema:
    return {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


def _put(root: Schema, dotted: str, leaf: Schema) -> None:
    parts = dotted.split(".")
    for part in parts:
        if not _NAME.fullmatch(part):
            raise SchemaError(
                f"{dotted!r} is not a field name: use letters, digits, _ and -, and . to nest"
            )
    node = root
    for part in parts[:-1]:
        child = node["properties"].get(part)
        if child is None:
            child = _object()
            node["properties"][part] = child
            node["required"].append(part)
        elif child.get("type") != "object":
            raise SchemaError(f"{part!r} is a {child['type']} and also has fields ({dotted!r})")
        node = child
    last = parts[-1]
    if last in node["properties"]:
        raise SchemaError(f"the field {dotted!r} is given twice")
    node["properties"][last] = leaf
    node["required"].append(last)


def output_config(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The request's ``output_config`` member that asks for answers of this shape."""
    return {"format": {"type": "json_schema", "schema": dict(schema)}}


def digest_text(schema: Mapping[str, Any]) -> str:
    """The schema as one canonical string (sorted keys): what the resume key hashes."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# Checking an answer
# --------------------------------------------------------------------------------------------------


class Mismatch(ValueError):
    """The answer is not JSON, or not of the schema's shape; ``problems`` say where."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        super().__init__(shown)


def parse(text: str, schema: Mapping[str, Any]) -> Any:
    """The answer's object, when it is JSON that matches ``schema``; :class:`Mismatch`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Mismatch([f"the answer is not JSON ({_reason(exc)})"]) from None
    try:
        problems = validate(data, schema)
    except RecursionError:
        problems = ["the answer is nested too deeply to be checked"]
    if problems:
        raise Mismatch(problems)
    return finite(data)


def finite(value: Any) -> Any:
    """``value`` with every NaN and infinity (which Python's JSON reads but JSON does not have)
    replaced by None, in lists and objects too: what is kept and written is always JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    return value


def validate(data: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way ``data`` fails ``schema`` (empty: it matches)."""
    return validate_at(data, schema, schema)


def type_of(value: Any) -> str:
    """The JSON type name of a parsed value (``integer`` for whole numbers, as JSON Schema)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _is(value: Any, kind: str) -> bool:
    actual = type_of(value)
    return actual == kind or (kind == "number" and actual == "integer")


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        raise Mismatch([f"only local $ref are supported, not {ref!r}"])
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        raise Mismatch([f"the schema's $ref {ref!r} points nowhere"])
    return node


def _check(data: Any, schema: Any, at: str, root: Mapping[str, Any], out: list[str]) -> None:
    if schema is False:
        out.append(f"{at}: not allowed")
        return
    if not isinstance(schema, Mapping):
        return  # true, or not a schema: anything goes
    if "$ref" in schema:
        _check(data, _resolve(str(schema["$ref"]), root), at, root, out)
    kinds = schema.get("type")
    if kinds is not None:
        wanted = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(data, k) for k in wanted):
            out.append(f"{at}: expected {' or '.join(wanted)}, got {type_of(data)}")
            return
    if "enum" in schema and not any(_same(data, v) for v in schema["enum"]):
        out.append(f"{at}: {json.dumps(data)[:40]} is not one of {json.dumps(schema['enum'])}")
    if "const" in schema and not _same(data, schema["const"]):
        out.append(f"{at}: expected {json.dumps(schema['const'])}")
    _combinators(data, schema, at, root, out)
    if isinstance(data, dict):
        _object_rules(data, schema, at, root, out)
    elif isinstance(data, list):
        _array_rules(data, schema, at, root, out)
    elif isinstance(data, str):
        _string_rules(data, schema, at, out)
    elif _is(data, "number"):
        _number_rules(data, schema, at, out)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True is not 1."""
    if _is(a, "number") and _is(b, "number"):
        return bool(a == b)
    return type_of(a) == type_of(b) and bool(a == b)


def _combinators(
    data: Any, schema: Mapping[str, Any], at: str, root: Mapping[str, Any], out: list[str]
) -> None:
    for sub in schema.get("allOf", ()):
        _check(data, sub, at, root, out)
    for word in ("anyOf", "oneOf"):
        if word in schema:
            matches = sum(not validate_at(data, sub, root) for sub in schema[word])
            if matches == 0 or (word == "oneOf" and matches > 1):
                out.append(f"{at}: matches {matches} of the {word} choices")


def validate_at(data: Any, schema: Any, root: Mapping[str, Any]) -> list[str]:
    """Every way ``data`` fails ``schema``, whose ``$ref`` point into ``root``."""
    problems: list[str] = []
    _check(data, schema, "$", root, problems)
    return problems


def _object_rules(
    data: dict[str, Any],
    schema: Mapping[str, Any],
    at: str,
    root: Mapping[str, Any],
    out: list[str],
) -> None:
    props = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in data:
            out.append(f"{at}: missing {name!r}")
    extra = schema.get("additionalProperties", True)
    for name, value in data.items():
        where = f"{at}.{name}"
        if name in props:
            _check(value, props[name], where, root, out)
        elif extra is False:
            out.append(f"{at}: unexpected {name!r}")
        else:
            _check(value, extra, where, root, out)


def _array_rules(
    data: list[Any], schema: Mapping[str, Any], at: str, root: Mapping[str, Any], out: list[str]
) -> None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and len(data) < low:
        out.append(f"{at}: {len(data)} items, fewer than {low}")
    if high is not None and len(data) > high:
        out.append(f"{at}: {len(data)} items, more than {high}")
    prefix = schema.get("prefixItems", ())
    for index, value in enumerate(data):
        sub = prefix[index] if index < len(prefix) else schema.get("items", True)
        _check(value, sub, f"{at}[{index}]", root, out)


def _string_rules(data: str, schema: Mapping[str, Any], at: str, out: list[str]) -> None:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and len(data) < low:
        out.append(f"{at}: shorter than {low} characters")
    if high is not None and len(data) > high:
        out.append(f"{at}: longer than {high} characters")
    pattern = schema.get("pattern")
    compiled = _compiled(pattern) if isinstance(pattern, str) else None
    if compiled is not None and compiled.search(data) is None:
        out.append(f"{at}: does not match {pattern!r}")


def _number_rules(data: float, schema: Mapping[str, Any], at: str, out: list[str]) -> None:
    for word, said in _BOUNDS.items():
        bound = schema.get(word)
        if isinstance(bound, int | float) and not isinstance(bound, bool):
            inside = {
                "minimum": data >= bound,
                "maximum": data <= bound,
                "exclusiveMinimum": data > bound,
                "exclusiveMaximum": data < bound,
            }[word]
            if not inside:
                out.append(f"{at}: {data} is {said} {bound}")


_BOUNDS: Final = {
    "minimum": "below",
    "maximum": "above",
    "exclusiveMinimum": "not above",
    "exclusiveMaximum": "not below",
}

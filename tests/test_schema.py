"""``--schema``: the grammar, the validator (checked against ``jsonschema``), and structured answers
through ``ask``, ``compare``, ``ask --each`` and ``ask --batch`` against the fake API."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import MakeImage, Run
from tests.fakeapi import REFUSAL_TEXT, FakeClaudeAPI, example_of
from vision_cli import catalog, fsutil, schema
from vision_cli.asking import answering
from vision_cli.bulk.records import FIELDS, prompt_sha256

Json = dict[str, Any]
RECEIPT = "total: number, date: string, vendor"


def body_of(fake: FakeClaudeAPI, index: int = -1) -> Json:
    body: Json = fake.messages_requests()[index].body
    return body


def lines(path: Path) -> list[Json]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


# --------------------------------------------------------------------------------------------------
# The grammar
# --------------------------------------------------------------------------------------------------


def test_the_short_form_makes_a_strict_object_schema() -> None:
    assert schema.load(RECEIPT) == {
        "type": "object",
        "properties": {
            "total": {"type": "number"},
            "date": {"type": "string"},
            "vendor": {"type": "string"},
        },
        "required": ["total", "date", "vendor"],
        "additionalProperties": False,
    }


def test_lists_and_dotted_names_nest() -> None:
    got = schema.load("tags: string[], address.city, address.zip: integer")
    assert got["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    address = got["properties"]["address"]
    assert address["required"] == ["city", "zip"]
    assert address["additionalProperties"] is False
    assert address["properties"]["zip"] == {"type": "integer"}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("total: money", "unknown type 'money'"),
        ("a, , b", "empty field"),
        ("a b: string", "not a field name"),
        ("a, a", "given twice"),
        ("a: string, a.b", "also has fields"),
        ("  ", "empty"),
        ("missing.json", "no such schema file"),
        ('{"type": "array"}', "wrap it in"),
        ("{not json", "not valid JSON"),
        ("{}", "asks for no shape at all"),
        (" { } ", "asks for no shape at all"),
    ],
)
def test_bad_schemas_say_what_is_wrong(value: str, words: str) -> None:
    with pytest.raises(schema.SchemaError, match=words):
        schema.load(value)


_DATE = {"type": "string"}


def _with(prop: Any, **root: Any) -> str:
    return json.dumps({"type": "object", "properties": {"d": prop}, **root})


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            _with({"$ref": "#/nope"}),
            "#/properties/d/$ref: the schema's $ref '#/nope' points nowhere",
        ),
        (_with({"$ref": "other.json#/x"}), "only local $ref"),
        (
            _with({"$ref": "#/$defs/x"}, **{"$defs": {"x": {"$ref": "#/$defs/x"}}}),
            "leads back to itself without a step into the value",
        ),
        (_with({"allOf": [{"$ref": "#/properties/d"}]}), "leads back to itself"),
        (_with({"type": "array", "minItems": "3"}), 'minItems is "3", not a whole number'),
        (_with({"type": "string", "maxLength": -1}), "maxLength is -1"),
        (_with({"type": "number", "minimum": "0"}), 'minimum is "0", not a number'),
        (_with({"enum": 5}), "enum is 5"),
        (_with({"type": "money"}), 'type is "money"'),
        (_with({"anyOf": []}), "anyOf is []"),
        (_with(_DATE, required="d"), "required is"),
        (_with(3), "#/properties/d is not a schema"),
        (
            _with(
                {"$ref": "#/$defs/a0"},
                **{
                    "$defs": {
                        **{f"a{i}": {"$ref": f"#/$defs/a{i + 1}"} for i in range(3000)},
                        "a3000": {"type": "string"},
                    }
                },
            ),
            "a chain of $ref longer than 100 schemas",
        ),
    ],
    ids=range(13),
)
def test_a_schema_that_could_not_check_an_answer_is_refused_at_once(value: str, words: str) -> None:
    """Found while the schema is read, before anything is sent: a schema the checker could not
    use (it crashed after the answer was paid for, and --each paid again on every resume)."""
    with pytest.raises(schema.SchemaError) as caught:
        schema.load(value)
    assert words in str(caught.value)


def test_a_recursive_schema_with_steps_into_the_value_is_read_and_checked() -> None:
    node = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}
    tree = schema.load(json.dumps(node))
    assert schema.validate({"kids": [{"kids": []}, {"kids": [{}]}]}, tree) == []
    assert schema.validate({"kids": [{"kids": 3}]}, tree) == [
        "$.kids[0].kids: expected array, got integer"
    ]


def test_json_schema_patterns_are_read_in_ecma_262s_words() -> None:
    """JSON Schema's patterns are ECMA-262's: named groups and back-references are translated;
    what Python's re cannot read at all is named, and answers are not checked against it."""
    dated = json.loads(_with({"type": "string", "pattern": "^(?<y>\\d{4})-(\\d{2})-\\k<y>$"}))
    assert schema.validate({"d": "2026-12-2026"}, dated) == []
    assert schema.validate({"d": "2026-12-2027"}, dated) != []
    letters = schema.load(_with({"type": "string", "pattern": "^\\p{L}+$"}))
    assert schema.unchecked_patterns(letters) == ["^\\p{L}+$"]
    assert schema.validate({"d": "1234"}, letters) == []  # not checked here, not a crash
    assert schema.unchecked_patterns(dated) == []


def test_an_answer_nested_beyond_pythons_reach_is_a_mismatch_not_a_crash() -> None:
    with pytest.raises(schema.Mismatch, match="nested too deeply"):
        schema.parse("[" * 100_000 + "]" * 100_000, {"type": "object"})


def test_a_schema_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    endless = tmp_path / "endless.json"
    endless.symlink_to("/dev/zero")
    with pytest.raises(schema.SchemaError, match="more than 33,554,432 bytes"):
        schema.load(str(endless))


def test_a_schema_file_is_read_as_it_is(tmp_path: Path) -> None:
    doc = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    assert schema.load(str(path)) == doc
    assert schema.load(json.dumps(doc)) == doc


# --------------------------------------------------------------------------------------------------
# The validator agrees with jsonschema
# --------------------------------------------------------------------------------------------------

_LEAVES: st.SearchStrategy[Json] = st.sampled_from(
    [
        {"type": "string"},
        {"type": "number"},
        {"type": "integer"},
        {"type": "boolean"},
        {"type": ["string", "null"]},
        {"enum": ["a", "b", 1]},
        {"const": 2},
        {"type": "number", "minimum": 0, "maximum": 10},
        {"type": "string", "minLength": 1, "maxLength": 3},
        {"type": "string", "pattern": "^[0-9]+$"},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 5}]},
    ]
)


def _schemas() -> st.SearchStrategy[Json]:
    def extend(inner: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
        props = st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
        objects = st.builds(
            lambda p, req, extra: {
                "type": "object",
                "properties": p,
                "required": [k for k in p if req],
                "additionalProperties": extra,
            },
            props,
            st.booleans(),
            st.booleans(),
        )
        arrays = st.builds(
            lambda items, low: {"type": "array", "items": items, "minItems": low, "maxItems": 3},
            inner,
            st.integers(0, 2),
        )
        return objects | arrays

    return st.recursive(_LEAVES, extend, max_leaves=6)


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.floats(-3, 12, allow_nan=False)
    | st.sampled_from(["", "a", "b", "12", "text", "abcd"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(_schemas(), _VALUES)
def test_the_validator_agrees_with_jsonschema(the_schema: Json, value: Any) -> None:
    validator = importlib.import_module("jsonschema").Draft202012Validator(the_schema)
    assert (schema.validate(value, the_schema) == []) == validator.is_valid(value)


@settings(max_examples=200, deadline=None)
@given(_schemas())
def test_the_fakes_example_matches_its_schema(the_schema: Json) -> None:
    # The fake's default structured answer must be valid, or the round trips below prove nothing.
    example = example_of({"type": "object", "properties": {"x": the_schema}})
    validator = importlib.import_module("jsonschema").Draft202012Validator(the_schema)
    if validator.is_valid(example["x"]):
        assert schema.validate(example["x"], the_schema) == []


def test_mismatches_name_the_place() -> None:
    s = schema.load("total: number, items.count: integer")
    problems = schema.validate({"total": "12", "items": {"count": 1.5}, "x": 1}, s)
    assert problems == [
        "$.total: expected number, got string",
        "$.items.count: expected integer, got number",
        "$: unexpected 'x'",
    ]
    with pytest.raises(schema.Mismatch, match="not JSON"):
        schema.parse('{"total": 1', s)


# --------------------------------------------------------------------------------------------------
# ask and compare
# --------------------------------------------------------------------------------------------------


def test_ask_sends_the_schema_and_prints_the_object(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.structured = lambda s, images: {"total": 12.5, "date": "2026-12-01", "vendor": "Acme"}
    result = run("ask", make_image("r.png"), "--schema", RECEIPT, "-p", "Read the receipt.")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 12.5, "date": "2026-12-01", "vendor": "Acme"}
    body = body_of(api)
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": schema.load(RECEIPT)}
    }
    assert "stream" not in body  # checked whole before it is printed


def test_ask_json_wraps_the_object_with_usage_and_cost(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    file = tmp_path / "receipt.json"
    file.write_text(json.dumps(schema.load(RECEIPT)))
    result = run("ask", make_image("r.png"), "--schema", file, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["data"] == example_of(schema.load(RECEIPT))
    assert json.loads(doc["text"]) == doc["data"]
    assert doc["error"] is None and doc["cost_usd"] > 0 and doc["usage"]["input_tokens"] > 0


def test_compare_takes_a_schema(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    a, b = make_image("a.png"), make_image("b.png", (320, 240))
    result = run("compare", a, b, "--schema", "same: boolean, differences: string[]")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"same": True, "differences": ["text"]}


def test_a_mismatch_in_ask_is_one_error_line_and_exit_1(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.mismatch_next()
    result = run("ask", make_image("r.png"), "--schema", RECEIPT)
    assert result.exit_code == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "does not match the schema" in errors[0]
    assert "missing 'total'" in errors[0] and "unexpected" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_refusal_is_said_to_be_one_not_an_answer_that_is_not_json(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """A refusal (``stop_reason: "refusal"``) was reported as "the answer is not JSON ...; ask
    again, or raise --max-tokens if it was cut short"."""
    api.refuse_next()
    result = run("ask", make_image("r.png"), "--schema", RECEIPT)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    assert "the model refused to answer (stop_reason refusal)" in errors[0]
    assert "not JSON" not in errors[0] and "--max-tokens" not in errors[0]
    assert REFUSAL_TEXT in errors[0]  # what it said
    api.refuse_next()
    doc = json.loads(run("ask", make_image("r.png"), "--schema", RECEIPT, "--json").stdout)
    assert doc["stop_reason"] == "refusal" and doc["data"] is None
    assert doc["error"]["type"] == "schema_mismatch" and "refused" in doc["error"]["message"]


@pytest.mark.parametrize(
    ("stop_reason", "said", "not_said"),
    [
        ("refusal", "the model refused to answer", "not JSON"),
        ("max_tokens", "cut short at --max-tokens", "refused"),
        ("end_turn", "the answer does not match the schema: the answer is not JSON", "refused"),
        (None, "the answer does not match the schema: the answer is not JSON", "cut short"),
    ],
)
def test_a_mismatch_says_what_the_stop_reason_tells(
    stop_reason: str | None, said: str, not_said: str
) -> None:
    error = answering.schema_error("the answer is not JSON (x)", stop_reason)
    assert error["type"] == "schema_mismatch" and error["status"] is None
    assert said in error["message"] and not_said not in error["message"]


def test_a_mismatch_with_json_keeps_the_answer(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.mismatch_next()
    result = run("ask", make_image("r.png"), "--schema", RECEIPT, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["data"] is None and doc["error"]["type"] == "schema_mismatch"
    assert json.loads(doc["text"]) == {"unexpected": "not what the schema asked for"}


def test_a_bad_schema_is_a_usage_error_before_anything_is_read(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("ask", make_image("r.png"), "--schema", "total: money")
    assert result.exit_code == 2
    assert "--schema" in result.stderr and "unknown type 'money'" in result.stderr
    assert api.messages_requests() == []


@pytest.mark.parametrize("mode", ["plain", "each", "dry-run"])
@pytest.mark.parametrize("in_file", [False, True])
def test_an_empty_schema_is_a_usage_error_before_anything_is_paid(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, mode: str, in_file: bool
) -> None:
    """``{}`` constrains nothing: it was left out of the request (an empty dict is falsy) yet the
    answer was checked against it, so a paid answer failed with exit 1, and --each paid again on
    every resume. It is refused while the option is read."""
    value: str | Path = "{}"
    if in_file:
        value = tmp_path / "empty.json"
        value.write_text("{}\n")
    extra = {
        "plain": [],
        "each": ["--each", "-o", str(tmp_path / "r.jsonl")],
        "dry-run": ["--dry-run"],
    }[mode]
    result = run("ask", _folder(make_image, tmp_path), *extra, "--schema", value)
    assert result.exit_code == 2, result.stderr
    said = " ".join(result.stderr.replace("│", " ").split())
    assert "--schema" in said and "asks for no shape at all" in said
    assert result.stdout == ""
    assert api.messages_requests() == []


def test_a_schema_that_loops_is_refused_before_each_sends_anything(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    looped = _with({"$ref": "#/$defs/x"}, **{"$defs": {"x": {"$ref": "#/$defs/x"}}})
    for mode in ((), ("--each", "-o", tmp_path / "r.jsonl")):
        result = run("ask", _folder(make_image, tmp_path), *mode, "--schema", looped)
        assert result.exit_code == 2, result.stderr
        assert "leads back to itself" in " ".join(result.stderr.replace("│", " ").split())
    assert api.messages_requests() == []


def test_a_pattern_python_cannot_read_is_named_and_the_answer_kept(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """``\\p{L}`` is valid in JSON Schema (ECMA-262) but not in Python's re: a warning before
    sending, and the paid answer is printed, not an internal error (exit 70) after it."""
    api.structured = lambda s, images: {"d": "Zoë"}
    letters = _with({"type": "string", "pattern": "^\\p{L}+$"}, required=["d"])
    result = run("ask", make_image("r.png"), "--schema", letters)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"d": "Zoë"}
    assert "is not one Python's re can read, so answers are not checked" in " ".join(
        result.stderr.replace("│", " ").split()
    )


def test_dry_run_shows_the_schema_and_counts_its_tokens(run: Run, make_image: MakeImage) -> None:
    image = make_image("r.png")
    plain = json.loads(run("ask", image, "--dry-run", "--json").stdout)
    shaped = json.loads(run("ask", image, "--dry-run", "--json", "--schema", RECEIPT).stdout)
    assert shaped["request"]["output_config"]["format"]["schema"] == schema.load(RECEIPT)
    assert "output_config" not in plain["request"]
    extra = len(json.dumps(shaped["request"]["output_config"], separators=(",", ":")))
    grown = shaped["estimate"]["text_tokens"] - plain["estimate"]["text_tokens"]
    assert grown == pytest.approx(extra / 4, abs=1)


# --------------------------------------------------------------------------------------------------
# --each and --batch
# --------------------------------------------------------------------------------------------------


def _folder(make_image: MakeImage, tmp_path: Path, count: int = 3) -> Path:
    folder = tmp_path / "receipts"
    for i in range(count):
        make_image(f"{i}.png", (40 + i, 30), folder=folder)
    return folder


def test_each_lines_gain_data_beside_text(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    result = run("ask", _folder(make_image, tmp_path), "--each", "--schema", RECEIPT, "-o", out)
    assert result.exit_code == 0, result.stderr
    records = lines(out)
    assert len(records) == 3
    for r in records:
        assert list(r) == list(FIELDS)
        assert r["data"] == json.loads(r["text"]) == example_of(schema.load(RECEIPT))
        assert r["error"] is None and r["seconds"] >= 0


def test_each_mismatch_is_an_error_line_retried_on_resume(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    folder = _folder(make_image, tmp_path)
    api.mismatch_next()
    first = run("ask", folder, "--each", "-j", "1", "--schema", RECEIPT, "-o", out)
    assert first.exit_code == 1
    bad = [r for r in lines(out) if r["error"] is not None]
    assert len(bad) == 1
    assert bad[0]["error"]["type"] == "schema_mismatch" and bad[0]["data"] is None
    assert bad[0]["cost_usd"] > 0 and bad[0]["usage"] is not None  # it was paid for
    second = run("ask", folder, "--each", "--schema", RECEIPT, "-o", out)
    assert second.exit_code == 0, second.stderr
    assert len(api.messages_requests()) == 4  # only the mismatch is asked again
    again = lines(out)[-1]
    assert again["path"] == bad[0]["path"] and again["error"] is None


def test_each_and_batch_lines_say_a_refusal_is_one(
    run: Run, batch_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    api = batch_api
    folder = _folder(make_image, tmp_path, 2)
    for mode in ("--each", "--batch"):
        out = tmp_path / f"r{mode}.jsonl"
        api.refuse_next()
        result = run("ask", folder, mode, "-j", "1", "--schema", RECEIPT, "-o", out)
        assert result.exit_code == 1
        (bad,) = [r for r in lines(out) if r["error"] is not None]
        assert bad["error"]["type"] == "schema_mismatch" and bad["stop_reason"] == "refusal"
        assert "the model refused to answer" in bad["error"]["message"]


def test_the_resume_key_holds_the_schema(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    folder = _folder(make_image, tmp_path, 2)
    assert run("ask", folder, "--each", "--schema", RECEIPT, "-o", out).exit_code == 0
    assert run("ask", folder, "--each", "--schema", RECEIPT, "-o", out).exit_code == 0
    assert len(api.messages_requests()) == 2  # unchanged: skipped
    changed = RECEIPT + ", tax: number"
    assert run("ask", folder, "--each", "--schema", changed, "-o", out).exit_code == 0
    assert len(api.messages_requests()) == 4  # changed: asked again
    assert run("ask", folder, "--each", "-o", out).exit_code == 0
    assert len(api.messages_requests()) == 6  # no schema is another key again
    keys = {r["prompt_sha256"] for r in lines(out)}
    assert len(keys) == 3
    assert prompt_sha256("x") == prompt_sha256("x", None)  # old files still resume


def test_batch_lines_gain_data_and_mismatches_are_error_lines(
    run: Run, batch_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    api = batch_api
    out = tmp_path / "r.jsonl"
    api.mismatch_next()
    result = run("ask", _folder(make_image, tmp_path), "--batch", "--schema", RECEIPT, "-o", out)
    assert result.exit_code == 1
    records = lines(out)
    assert sorted(r["error"]["type"] if r["error"] else "ok" for r in records) == [
        "ok",
        "ok",
        "schema_mismatch",
    ]
    assert all(r["data"] == example_of(schema.load(RECEIPT)) for r in records if not r["error"])
    params = [req["params"] for req in api.requests_to("/v1/messages/batches")[0].body["requests"]]
    assert all(p["output_config"]["format"]["schema"] == schema.load(RECEIPT) for p in params)


@pytest.mark.parametrize("each", [False, True])
def test_a_schema_survives_the_resend_of_an_image_too_large(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    each: bool,
) -> None:
    # One 400 image_dimensions_too_large, one resend with the image shrunk: the resent request
    # still carries the schema and the answer is still checked against it.
    monkeypatch.setenv(fsutil.CACHE_DIR_ENV, str(tmp_path / "vc-cache"))
    catalog.forget()
    api.set_max_side("claude-sonnet-5-5", 1000)
    api.structured = lambda s, images: {"total": float(images[0].width or 0), "vendor": "Acme"}
    image = make_image("r.png", (2000, 900))
    out = tmp_path / "r.jsonl"
    extra = ["--each", "-o", str(out)] if each else ["--json"]
    result = run(
        "ask", image, "--schema", "total: number, vendor", "-m", "claude-sonnet-5-5", *extra
    )
    assert result.exit_code == 0, result.stderr
    requests = api.messages_requests()
    assert [r.status for r in requests] == [400, 200]
    assert all("output_config" in r.body for r in requests)
    doc = json.loads(out.read_text()) if each else json.loads(result.stdout)
    assert doc["data"] == {"total": 1000.0, "vendor": "Acme"} and doc["error"] is None

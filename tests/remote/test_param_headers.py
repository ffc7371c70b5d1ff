"""``x-mcp-header`` annotations and ``Mcp-Param-*`` values (MCP 2026-07-28), one rule of the spec per test."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mcpguard.remote.param_headers import (
    InvalidAnnotation,
    ParamHeader,
    UnmirrorableValue,
    call_headers,
    encode_value,
    header_specs,
    header_value,
    screen_tools,
)


def schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def annotated(kind: str, name: str) -> dict[str, Any]:
    return {"type": kind, "x-mcp-header": name}


# -- annotations ------------------------------------------------------------------------------------


def test_the_specs_example_mirrors_region() -> None:
    spec = schema(region=annotated("string", "Region"), query={"type": "string"})
    assert header_specs(spec) == (ParamHeader(("region",), "Mcp-Param-Region"),)


def test_string_integer_boolean_and_nested_properties_are_allowed() -> None:
    spec = schema(
        a=annotated("string", "A"),
        n=annotated("integer", "N"),
        b=annotated("boolean", "B"),
        outer=schema(inner=schema(deep=annotated("string", "Deep"))),
    )
    assert header_specs(spec) == (
        ParamHeader(("a",), "Mcp-Param-A"),
        ParamHeader(("b",), "Mcp-Param-B"),
        ParamHeader(("n",), "Mcp-Param-N"),
        ParamHeader(("outer", "inner", "deep"), "Mcp-Param-Deep"),
    )


@pytest.mark.parametrize("spec", [None, {}, {"type": "object"}, "not a schema", schema(x={"type": "string"})])
def test_schemas_without_annotations_mirror_nothing(spec: Any) -> None:
    assert header_specs(spec) == ()


def test_a_property_named_like_the_annotation_or_data_holding_it_is_no_annotation() -> None:
    spec = schema(**{"x-mcp-header": {"type": "object", "default": {"x-mcp-header": "Nope"}}})
    spec["examples"] = [{"x-mcp-header": "Nope"}]
    assert header_specs(spec) == ()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "not an HTTP field-name token"),
        ("Re gion", "not an HTTP field-name token"),
        ("Region\r\nX-Evil: 1", "not an HTTP field-name token"),
        ("Régión", "not an HTTP field-name token"),
        ("a:b", "not an HTTP field-name token"),
        (7, "not an HTTP field-name token"),
    ],
)
def test_names_must_be_field_name_tokens(name: Any, reason: str) -> None:
    with pytest.raises(InvalidAnnotation, match=reason):
        header_specs(schema(region={"type": "string", "x-mcp-header": name}))


def test_every_tchar_is_accepted() -> None:
    name = "!#$%&'*+-.^_`|~09AZaz"
    assert header_specs(schema(x=annotated("string", name)))[0].header == "Mcp-Param-" + name


def test_names_must_be_unique_regardless_of_case() -> None:
    with pytest.raises(InvalidAnnotation, match="case-insensitively"):
        header_specs(schema(a=annotated("string", "Region"), b=annotated("string", "REGION")))


@pytest.mark.parametrize("kind", ["number", "object", "array", "null", None, ["string", "null"]])
def test_only_string_integer_and_boolean_parameters(kind: Any) -> None:
    prop: dict[str, Any] = {"x-mcp-header": "X"}
    if kind is not None:
        prop["type"] = kind
    with pytest.raises(InvalidAnnotation, match="only string, integer and boolean"):
        header_specs(schema(x=prop))


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "object", "x-mcp-header": "Root"},
        {"type": "array", "items": annotated("string", "Item")},
        schema(list={"type": "array", "items": schema(x=annotated("string", "X"))}),
        {"type": "object", "anyOf": [schema(x=annotated("string", "X"))]},
        {"type": "object", "oneOf": [schema(x=annotated("string", "X"))]},
        {"type": "object", "allOf": [schema(x=annotated("string", "X"))]},
        {"type": "object", "not": schema(x=annotated("string", "X"))},
        {"type": "object", "if": schema(x=annotated("string", "X")), "then": {}},
        {"type": "object", "then": schema(x=annotated("string", "X"))},
        {"type": "object", "$defs": {"x": annotated("string", "X")}, "properties": {"x": {"$ref": "#/$defs/x"}}},
        {"type": "object", "patternProperties": {"^x": annotated("string", "X")}},
        {"type": "object", "additionalProperties": annotated("string", "X")},
        schema(outer={"type": "object", "anyOf": [schema(x=annotated("string", "X"))]}),
    ],
)
def test_annotations_must_be_statically_reachable(spec: dict[str, Any]) -> None:
    with pytest.raises(InvalidAnnotation, match="reached through 'properties' keys alone"):
        header_specs(spec)


def test_a_deeply_nested_schema_does_not_exhaust_the_stack() -> None:
    spec: dict[str, Any] = annotated("string", "Deep")
    for _ in range(5000):
        spec = schema(p=spec)
    assert header_specs(spec) == (ParamHeader(("p",) * 5000, "Mcp-Param-Deep"),)


def test_screening_a_list_keeps_the_valid_tools_and_says_why_others_went() -> None:
    good = {"name": "good", "inputSchema": schema(r=annotated("string", "Region"))}
    plain = {"name": "plain", "inputSchema": {"type": "object"}}
    bad = {"name": "bad", "inputSchema": schema(r=annotated("number", "Amount"))}
    nameless = {"inputSchema": schema(r=annotated("number", "Amount"))}
    screened = screen_tools([good, bad, plain, nameless, "junk"])
    assert screened.kept == [good, plain, nameless, "junk"]
    assert screened.headers == {"good": (ParamHeader(("r",), "Mcp-Param-Region"),), "plain": ()}
    assert list(screened.rejected) == ["bad"] and "type 'number'" in screened.rejected["bad"]


# -- values -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
    ],
)
def test_the_specs_encoding_examples(value: str, encoded: str) -> None:
    assert encode_value(value) == encoded


@pytest.mark.parametrize("value", ["a\tb", "a b", "", "=?base64?", "?=", "x=?base64?y?="])
def test_plain_ascii_with_inner_space_or_tab_is_sent_as_it_is(value: str) -> None:
    assert encode_value(value) == value


@pytest.mark.parametrize("value", ["\ttab", "end\t", "del\x7f", "nul\x00", "é"])
def test_anything_else_is_base64_of_its_utf8(value: str) -> None:
    encoded = encode_value(value)
    assert encoded.startswith("=?base64?") and encoded.endswith("?=")
    assert base64.b64decode(encoded[9:-2]).decode() == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (0, "0"),
        (42.0, "42"),
        (2**53 - 1, "9007199254740991"),
        (-(2**53 - 1), "-9007199254740991"),
        (None, None),
    ],
)
def test_booleans_and_integers_are_converted(value: Any, text: str | None) -> None:
    assert header_value(value) == text


@pytest.mark.parametrize("value", [2**53, -(2**53), 1.5, float(2**60), {"a": 1}, [1]])
def test_values_no_header_can_carry_are_refused(value: Any) -> None:
    with pytest.raises(UnmirrorableValue):
        header_value(value)


def test_call_headers_read_the_exact_path_and_omit_what_is_absent_or_null() -> None:
    specs = (
        ParamHeader(("region",), "Mcp-Param-Region"),
        ParamHeader(("opts", "dry"), "Mcp-Param-Dry"),
        ParamHeader(("missing",), "Mcp-Param-Missing"),
        ParamHeader(("nulled",), "Mcp-Param-Nulled"),
        ParamHeader(("scalar", "below"), "Mcp-Param-Below"),
    )
    arguments = {"region": "eu", "opts": {"dry": True}, "nulled": None, "scalar": 3}
    assert call_headers(specs, arguments) == {"Mcp-Param-Region": "eu", "Mcp-Param-Dry": "true"}
    assert call_headers(specs, None) == {}
    assert call_headers((), arguments) == {}


def test_call_headers_name_the_argument_they_cannot_mirror() -> None:
    with pytest.raises(UnmirrorableValue, match=r"'opts.n' \(mirrored as Mcp-Param-N\) is a number"):
        call_headers((ParamHeader(("opts", "n"), "Mcp-Param-N"),), {"opts": {"n": 0.5}})

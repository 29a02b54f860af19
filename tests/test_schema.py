"""hwsim.schema: the one table validator behind the format and accelerator catalogs (STYLE P8)."""

from __future__ import annotations

from hwsim.schema import Field, Schema, at, typename

SCHEMA = Schema({"bits": Field(int, required=True, minimum=0), "rounding": Field(str, allowed=("even", "zero")),
                 "latency_cycles": Field((int, float), minimum=0, inclusive=True), "saturate": Field(bool),
                 "element": Field((str, dict))}, "kind 'int'")


def check(table: object, *, required: bool = True) -> tuple[dict, list[str]]:
    errors: list[str] = []
    good = SCHEMA.check("f.toml:x", table, errors, required=required)
    return good, errors


def test_a_good_table_passes_whole() -> None:
    table = {"bits": 4, "rounding": "even", "latency_cycles": 0, "saturate": True, "element": {"kind": "int"}}
    assert check(table) == (table, [])


def test_every_problem_is_reported_with_file_and_key() -> None:
    good, errors = check({"bits": True, "rounding": "up", "latency_cycles": -1.5, "saturate": 1, "elemnt": "e",
                          "element": 3})
    assert good == {}
    assert errors == [
        "f.toml:x.bits: expected int, got bool True",
        "f.toml:x.rounding: 'up' not one of ['even', 'zero']",
        "f.toml:x.latency_cycles: must be >= 0, got -1.5",
        "f.toml:x.saturate: expected bool, got int 1",
        "f.toml:x.elemnt: unknown key (did you mean 'element'?); allowed keys for kind 'int': "
        "bits, element, latency_cycles, rounding, saturate",
        "f.toml:x.element: expected str or dict, got int 3",
    ]  # bits is present (mistyped): not reported missing as well


def test_bounds_exclusive_and_inclusive() -> None:
    assert check({"bits": 0})[1] == ["f.toml:x.bits: must be > 0, got 0"]
    assert check({"bits": 1, "latency_cycles": 0})[1] == []


def test_missing_required_keys_unless_asked_not_to() -> None:
    assert check({})[1] == ["f.toml:x.bits: missing (required for kind 'int')"]
    assert check({}, required=False)[1] == []
    assert SCHEMA.missing({"rounding": "even"}) == ["bits"]


def test_unknown_key_without_a_close_match_lists_the_keys() -> None:
    assert check({"bits": 2, "colour": "red"})[1] == [
        "f.toml:x.colour: unknown key; allowed keys for kind 'int': bits, element, latency_cycles, rounding, saturate"]


def test_not_a_table() -> None:
    assert check([1, 2]) == ({}, ["f.toml:x: expected a table, got list"])


def test_helpers() -> None:
    assert at("f.toml:", "name") == "f.toml:name" and at("f.toml:memory", "dram") == "f.toml:memory.dram"
    assert typename(int) == "int" and typename((int, float)) == "int or float"

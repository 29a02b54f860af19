"""The format catalog: ``formats/*.toml`` -> validate (collect every error) -> typed Formats.

STYLE P8: load with tomllib, check a schema and cross-field rules, collect every problem as
``file:table.key: message`` and raise one :class:`~hwsim.errors.CatalogError` holding all of
them; only this module touches raw dicts.

Search path: the ``formats/`` folder of the hwsim source tree, then every folder named in the
environment variable ``HWSIM_FORMATS_PATH`` (``os.pathsep``-separated). A user adds formats by
dropping a TOML file in such a folder; names must be unique across all files.
"""

from __future__ import annotations

import importlib
import math
import os
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from hwsim.errors import CatalogError, FormatError, unknown_name
from hwsim.numerics.format import Element, FloatElement, Format, IntElement
from hwsim.numerics.protocol import KindSpec, NumberFormat
from hwsim.numerics.types import RoundMode, ScaleRule, Specials

__all__ = ["format_dirs", "load_formats", "all_formats", "core_formats", "get_format", "format_names",
           "build_format", "load_codebooks"]

_ROOT = Path(__file__).resolve().parent.parent

#: the format-family modules, each exporting CATALOG_KINDS and/or CODEBOOK_GENERATORS
FAMILY_MODULES = ("hwsim.numerics.codebook", "hwsim.numerics.mixture", "hwsim.numerics.asym_int",
                  "hwsim.numerics.olive", "hwsim.numerics.ternary", "hwsim.numerics.shift",
                  "hwsim.numerics.bcq", "hwsim.numerics.llmfp")

_COMMON = {"kind": str, "reference": str, "description": str, "ml_dtypes": str, "rounding": str,
           "saturate": bool}
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "float": {"exp_bits": int, "man_bits": int, "bias": int, "specials": str},
    "int": {"bits": int, "frac_bits": int, "encoding": str},
    "scaled": {"element": (str, dict), "block_size": int, "scale_rule": str, "scale_element": (str, dict),
               "tensor_scale": bool},
}
_REQUIRED = {"float": ("exp_bits", "man_bits"), "int": ("bits",), "scaled": ("element",)}
_ALLOWED = {
    "specials": [s.value for s in Specials],
    "scale_rule": [s.value for s in ScaleRule],
    "rounding": [r.value for r in RoundMode],
    "encoding": ["twos_complement", "sign_magnitude"],
}


@lru_cache(maxsize=1)
def _families() -> tuple[dict[str, KindSpec], dict[str, Any]]:
    """CATALOG_KINDS and CODEBOOK_GENERATORS exported by the format-family modules."""
    kinds: dict[str, KindSpec] = {}
    generators: dict[str, Any] = {}
    for modname in FAMILY_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:  # family not written yet
                continue
            raise
        kinds.update(getattr(mod, "CATALOG_KINDS", {}))
        generators.update(getattr(mod, "CODEBOOK_GENERATORS", {}))
    return kinds, generators


_CODEBOOK_KEYS: dict[str, type | tuple[type, ...]] = {
    "bits": int, "table": list, "generator": str, "params": dict, "ties": str, "denominator": str,
    "reference": str, "description": str}


def _codebook_from(where: str, name: str, table: Mapping[str, Any], errors: list[str]) -> Any:
    """One ``[codebooks.NAME]`` entry -> Codebook (problems appended to ``errors``)."""
    from hwsim.numerics.codebook import TIES, Codebook

    n0 = len(errors)
    for key, value in table.items():
        want = _CODEBOOK_KEYS.get(key)
        if want is None:
            errors.append(f"{where}.{key}: unknown key; allowed keys for a codebook: "
                          f"{', '.join(sorted(_CODEBOOK_KEYS))}")
        elif isinstance(value, bool) or not isinstance(value, want):
            errors.append(f"{where}.{key}: expected {want.__name__}, got {type(value).__name__} {value!r}")
    if ("table" in table) == ("generator" in table):
        errors.append(f"{where}: give exactly one of 'table' (value of each code) or 'generator'")
    if "ties" in table and table["ties"] not in TIES:
        errors.append(f"{where}.ties: {table['ties']!r} not one of {list(TIES)}")
    if not str(table.get("reference", "")).strip():
        errors.append(f"{where}.reference: missing or empty (every codebook cites its paper or code)")
    if len(errors) > n0:
        return None
    try:
        if "generator" in table:
            gens = _families()[1]
            gen = gens.get(table["generator"])
            if gen is None:
                errors.append(f"{where}.generator: " + unknown_name("codebook generator", table["generator"], gens))
                return None
            values = list(gen(**table.get("params", {})))
        else:
            values = [math.nan if v == "nan" else v for v in table["table"]]
            bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | float)]
            if bad:
                errors.append(f"{where}.table: entries must be numbers or \"nan\", got {bad[0]!r}")
                return None
        bits = table.get("bits", max(len(values) - 1, 1).bit_length())
        return Codebook(name=name, bits=bits, table=tuple(values), ties=table.get("ties", "even"),
                        denominator=table.get("denominator", "absmax"), reference=table.get("reference", ""))
    except (FormatError, TypeError, ValueError) as exc:
        errors.append(f"{where}: {exc}")
        return None


def format_dirs() -> list[Path]:
    dirs = [_ROOT / "formats"]
    extra = os.environ.get("HWSIM_FORMATS_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs


def _check_table(where: str, kind: str, table: Mapping[str, Any], errors: list[str]) -> None:
    schema = {**_COMMON, **_SCHEMA[kind]}
    for key, value in table.items():
        if key not in schema:
            errors.append(f"{where}.{key}: unknown key; allowed keys for kind {kind!r}: "
                          f"{', '.join(sorted(schema))}")
            continue
        want = schema[key]
        if isinstance(value, bool) and want is int:
            errors.append(f"{where}.{key}: expected int, got bool {value!r}")
        elif not isinstance(value, want):
            wname = want.__name__ if isinstance(want, type) else " or ".join(t.__name__ for t in want)
            errors.append(f"{where}.{key}: expected {wname}, got {type(value).__name__} {value!r}")
        elif key in _ALLOWED and value not in _ALLOWED[key]:
            errors.append(f"{where}.{key}: {value!r} not one of {_ALLOWED[key]}")
    for key in _REQUIRED[kind]:
        if key not in table:
            errors.append(f"{where}.{key}: missing (required for kind {kind!r})")


def _default_bias(exp_bits: int) -> int:
    """IEEE 754 bias 2**(E-1) - 1 (an out-of-range E is left for FloatElement to report)."""
    return (1 << (exp_bits - 1)) - 1 if isinstance(exp_bits, int) and 1 <= exp_bits <= 64 else 0


def _element_from(table: Mapping[str, Any]) -> Element:
    if table["kind"] == "float":
        e = table["exp_bits"]
        return FloatElement(exp_bits=e, man_bits=table["man_bits"],
                            bias=table.get("bias", _default_bias(e)),
                            specials=Specials(table.get("specials", "ieee")))
    return IntElement(bits=table["bits"], frac_bits=table.get("frac_bits", 0),
                      encoding=table.get("encoding", "twos_complement"))


def load_formats(dirs: list[Path] | None = None) -> dict[str, NumberFormat]:
    """Parse and validate every catalog file; raise one CatalogError listing all problems."""
    errors: list[str] = []
    raw: dict[str, tuple[str, dict[str, Any]]] = {}
    raw_codebooks: dict[str, tuple[str, dict[str, Any]]] = {}
    invalid: set[str] = set()
    family_kinds = _families()[0]
    for d in dirs if dirs is not None else format_dirs():
        if not d.is_dir():
            errors.append(f"{d}: catalog folder does not exist")
            continue
        for path in sorted(d.glob("*.toml")):
            try:
                doc = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                errors.append(f"{path.name}: not valid TOML: {exc}")
                continue
            for name, table in doc.items():
                where = f"{path.name}:{name}"
                if name == "codebooks" and isinstance(table, dict):
                    for cb_name, cb_table in table.items():
                        cb_where = f"{path.name}:codebooks.{cb_name}"
                        if not isinstance(cb_table, dict):
                            errors.append(f"{cb_where}: expected a table, got {type(cb_table).__name__}")
                        elif cb_name in raw_codebooks:
                            errors.append(f"{cb_where}: duplicate codebook name")
                        else:
                            raw_codebooks[cb_name] = (cb_where, cb_table)
                    continue
                if not isinstance(table, dict):
                    errors.append(f"{where}: expected a table [{name}], got {type(table).__name__}")
                    continue
                if name in raw:
                    errors.append(f"{where}: duplicate format name (also in {raw[name][0].split(':')[0]})")
                    continue
                kind = table.get("kind")
                if kind not in _SCHEMA and kind not in family_kinds:
                    errors.append(f"{where}.kind: {kind!r} not one of {sorted([*_SCHEMA, *family_kinds])}")
                    continue
                n_before = len(errors)
                if kind in family_kinds:
                    _check_family_table(where, family_kinds[kind], table, errors)
                else:
                    _check_table(where, kind, table, errors)
                if not str(table.get("reference", "")).strip():
                    errors.append(f"{where}.reference: missing or empty (every entry cites its spec)")
                for key, kinds in (("element", ("float", "int")), ("scale_element", ("float",))):
                    if isinstance(table.get(key), dict):  # an inline element table
                        inner = table[key]
                        ik = inner.get("kind")
                        if ik not in kinds:
                            errors.append(f"{where}.{key}.kind: {ik!r} not one of {list(kinds)}")
                        else:
                            _check_table(f"{where}.{key}", ik, inner, errors)
                if len(errors) > n_before:  # schema errors: reported; building it would only add noise
                    invalid.add(name)
                raw[name] = (where, table)

    codebooks: dict[str, Any] = {}
    for cb_name, (cb_where, cb_table) in raw_codebooks.items():
        cb = _codebook_from(cb_where, cb_name, cb_table, errors)
        if cb is not None:
            codebooks[cb_name] = cb
    formats: dict[str, NumberFormat] = {}
    elements: dict[str, Element] = {}
    build_errors = (FormatError, KeyError, TypeError, ValueError, OverflowError)
    for name, (where, table) in raw.items():
        if table["kind"] in ("float", "int") and name not in invalid:
            try:
                elements[name] = _element_from(table)
            except build_errors as exc:
                errors.append(f"{where}: {exc}")
    for name, (where, table) in raw.items():
        if name in invalid:
            continue
        common = {k: table[k] for k in ("rounding", "saturate") if k in table}
        meta = {"reference": table.get("reference", ""), "description": table.get("description", ""),
                "ml_dtypes": table.get("ml_dtypes")}
        try:
            if table["kind"] in family_kinds:
                spec = family_kinds[table["kind"]]
                body = {k: v for k, v in table.items() if k != "kind"}
                formats[name] = spec.build(name, body, codebooks)
                continue
            if table["kind"] in ("float", "int"):
                if name not in elements:
                    continue
                formats[name] = Format(name=name, element=elements[name], **common, **meta)
                continue
            el_ref = table["element"]
            if isinstance(el_ref, dict):
                element = _element_from(el_ref)
            elif el_ref in elements:
                element = elements[el_ref]
            else:
                errors.append(f"{where}.element: " + unknown_name("element format", el_ref, elements))
                continue
            scale_el = None
            if "scale_element" in table:
                se_ref = table["scale_element"]
                # inline tables hold elements that are no format themselves (unsigned UE5M3)
                se = _element_from(se_ref) if isinstance(se_ref, dict) else elements.get(se_ref)
                if not isinstance(se, FloatElement):
                    errors.append(f"{where}.scale_element: " + unknown_name(
                        "float element", table["scale_element"],
                        [n for n, e in elements.items() if isinstance(e, FloatElement)]))
                    continue
                scale_el = se
            formats[name] = Format(
                name=name, element=element, block_size=table.get("block_size"),
                scale_rule=table.get("scale_rule"), scale_element=scale_el,
                tensor_scale=table.get("tensor_scale", False), **common, **meta)
        except build_errors as exc:
            errors.append(f"{where}: {exc}")
    if errors:
        raise CatalogError(errors)
    return formats


_FAMILY_COMMON = {"kind": str, "reference": str, "description": str}


def _check_family_table(where: str, spec: KindSpec, table: Mapping[str, Any], errors: list[str]) -> None:
    # rounding/saturate belong to the core family; a family kind that has them lists them itself
    schema = {**_FAMILY_COMMON, **spec.schema}
    for key, value in table.items():
        want = schema.get(key)
        if want is None:
            errors.append(f"{where}.{key}: unknown key; allowed keys for kind {table['kind']!r}: "
                          f"{', '.join(sorted(schema))}")
            continue
        wants = want if isinstance(want, tuple) else (want,)
        if isinstance(value, bool) and bool not in wants:
            errors.append(f"{where}.{key}: expected {' or '.join(t.__name__ for t in wants)}, got bool {value!r}")
        elif not isinstance(value, wants):
            errors.append(f"{where}.{key}: expected {' or '.join(t.__name__ for t in wants)}, "
                          f"got {type(value).__name__} {value!r}")
        elif key in spec.allowed and value not in spec.allowed[key]:
            errors.append(f"{where}.{key}: {value!r} not one of {list(spec.allowed[key])}")
    for key in spec.required:
        if key not in table:
            errors.append(f"{where}.{key}: missing (required for kind {table['kind']!r})")


@lru_cache(maxsize=8)
def _cached(dirs: tuple[Path, ...]) -> dict[str, NumberFormat]:
    return load_formats(list(dirs))


def all_formats() -> list[NumberFormat]:
    """Every catalog entry, all families (the ``hwsim formats`` table, format-generic API tests)."""
    return list(_cached(tuple(format_dirs())).values())


def core_formats() -> list[Format]:
    """The element-plus-scaling :class:`Format` entries (casts, MX, NVFP4, BFP, absmax ints):
    the ones with ml_dtypes twins, rounding modes and the torch kernel path."""
    return [f for f in all_formats() if isinstance(f, Format)]


def load_codebooks(dirs: list[Path] | None = None) -> dict[str, Any]:
    """Every ``[codebooks.NAME]`` entry of the catalog files, by name (raises CatalogError)."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    for d in dirs if dirs is not None else format_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else ():
            doc = tomllib.loads(path.read_text())
            for cb_name, cb_table in doc.get("codebooks", {}).items():
                cb = _codebook_from(f"{path.name}:codebooks.{cb_name}", cb_name, cb_table, errors)
                if cb is not None:
                    out[cb_name] = cb
    if errors:
        raise CatalogError(errors)
    return out


def format_names() -> list[str]:
    return list(_cached(tuple(format_dirs())))


_BUILDERS = ("fp", "int", "block")


def build_format(kind: str, /, **params: Any) -> Format:
    """A format built in code: ``fp`` (exp_bits, man_bits[, bias, specials]), ``int`` (bits[,
    frac_bits, encoding]), ``block`` (element=<name or Format>, block_size, scale_rule[,
    scale_element, tensor_scale]). Common keyword arguments: rounding, saturate, seed, name."""
    common = {k: params.pop(k) for k in ("rounding", "saturate", "seed") if k in params}
    name = params.pop("name", None)
    try:
        if kind == "fp":
            e = params.pop("exp_bits")
            m = params.pop("man_bits")
            element: Element = FloatElement(exp_bits=e, man_bits=m, bias=params.pop("bias", _default_bias(e)),
                                            specials=Specials(params.pop("specials", "ieee")))
            default_name = f"fp_e{e}m{m}"
            extra: dict[str, Any] = {}
        elif kind == "int":
            element = IntElement(bits=params.pop("bits"), frac_bits=params.pop("frac_bits", 0),
                                 encoding=params.pop("encoding", "twos_complement"))
            default_name = f"int{element.bits}"
            extra = {}
        else:
            el = params.pop("element")
            element = (get_format(el) if isinstance(el, str) else el).element
            se = params.pop("scale_element", None)
            extra = {"block_size": params.pop("block_size"), "scale_rule": params.pop("scale_rule", "pow2"),
                     "scale_element": get_format(se).element if isinstance(se, str) else se,
                     "tensor_scale": params.pop("tensor_scale", False)}
            default_name = f"block_{el if isinstance(el, str) else el.name}_{extra['block_size']}"
    except KeyError as exc:
        raise FormatError(f"hwsim.format({kind!r}, ...): missing parameter {exc.args[0]!r}") from None
    except ValueError as exc:
        raise FormatError(f"hwsim.format({kind!r}, ...): {exc}") from None
    if params:
        raise FormatError(f"hwsim.format({kind!r}, ...): unknown parameter(s) {sorted(params)}")
    return Format(name=name or default_name, element=element, reference="user-defined", **extra, **common)


def get_format(name: str, /, **overrides: Any) -> Format:
    """Catalog lookup (``hwsim.format``); ``fp``/``int``/``block`` build a format in code."""
    if not isinstance(name, str):
        raise FormatError(f"format name must be a str, got {type(name).__name__}")
    if name in _BUILDERS:
        return build_format(name, **overrides)
    catalog = _cached(tuple(format_dirs()))
    fmt = catalog.get(name)
    if fmt is None:
        raise FormatError(unknown_name("format", name, list(catalog) + list(_BUILDERS)))
    return fmt.replace(**overrides) if overrides else fmt

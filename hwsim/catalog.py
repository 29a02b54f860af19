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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from hwsim.errors import CatalogError, FormatError, unknown_name
from hwsim.numerics.elements import Element, FloatElement, IntElement
from hwsim.numerics.format import Format
from hwsim.numerics.protocol import KindSpec, NumberFormat
from hwsim.numerics.types import RoundMode, ScaleRule, Specials
from hwsim.schema import Field, Schema

__all__ = ["format_dirs", "load_formats", "all_formats", "core_formats", "get_format", "format_names",
           "build_format", "load_codebooks", "read_toml", "catalog_folders"]

_ROOT = Path(__file__).resolve().parent.parent

#: the format-family modules, each exporting CATALOG_KINDS and/or CODEBOOK_GENERATORS
FAMILY_MODULES = ("hwsim.numerics.codebook", "hwsim.numerics.mixture", "hwsim.numerics.asym_int",
                  "hwsim.numerics.olive", "hwsim.numerics.ternary", "hwsim.numerics.shift",
                  "hwsim.numerics.bcq", "hwsim.numerics.llmfp")

#: keys every core entry (kinds float, int, scaled) may have
_COMMON = {"kind": Field(str), "reference": Field(str), "description": Field(str), "ml_dtypes": Field(str),
           "rounding": Field(str, allowed=tuple(r.value for r in RoundMode)), "saturate": Field(bool)}
#: the core kinds: an element type, and an element plus block/channel/tensor scaling
_CORE: dict[str, Schema] = {
    "float": Schema({**_COMMON, "exp_bits": Field(int, required=True), "man_bits": Field(int, required=True),
                     "bias": Field(int), "specials": Field(str, allowed=tuple(s.value for s in Specials))},
                    "kind 'float'"),
    "int": Schema({**_COMMON, "bits": Field(int, required=True), "frac_bits": Field(int),
                   "encoding": Field(str, allowed=("twos_complement", "sign_magnitude"))}, "kind 'int'"),
    "scaled": Schema({**_COMMON, "element": Field((str, dict), required=True), "block_size": Field(int),
                      "scale_rule": Field(str, allowed=tuple(s.value for s in ScaleRule)),
                      "scale_element": Field((str, dict)), "tensor_scale": Field(bool)}, "kind 'scaled'"),
}
#: keys of a scaled entry that may hold an inline element table, and the kinds it may have
_INLINE = (("element", ("float", "int")), ("scale_element", ("float",)))
#: keys every format-family entry has besides its KindSpec.schema (rounding/saturate belong to the
#: core family; a family kind that has them lists them itself)
_FAMILY_COMMON = {"kind": str, "reference": str, "description": str}
_BUILD_ERRORS = (FormatError, KeyError, TypeError, ValueError, OverflowError)


@lru_cache(maxsize=1)
def _families() -> tuple[dict[str, KindSpec], dict[str, Any]]:
    """CATALOG_KINDS and CODEBOOK_GENERATORS exported by the format-family modules."""
    kinds: dict[str, KindSpec] = {}
    generators: dict[str, Any] = {}
    for modname in FAMILY_MODULES:
        mod = importlib.import_module(modname)
        kinds.update(getattr(mod, "CATALOG_KINDS", {}))
        generators.update(getattr(mod, "CODEBOOK_GENERATORS", {}))
    return kinds, generators


@lru_cache(maxsize=1)
def _codebook_schema() -> Schema:
    from hwsim.numerics.codebook import TIES

    return Schema({"bits": Field(int), "table": Field(list), "generator": Field(str), "params": Field(dict),
                   "ties": Field(str, allowed=tuple(TIES)), "denominator": Field(str), "reference": Field(str),
                   "description": Field(str)}, "a codebook")


def _codebook_from(where: str, name: str, table: Mapping[str, Any], errors: list[str]) -> Any:
    """One ``[codebooks.NAME]`` entry -> Codebook (problems appended to ``errors``)."""
    from hwsim.numerics.codebook import Codebook

    n0 = len(errors)
    _codebook_schema().check(where, table, errors)
    if ("table" in table) == ("generator" in table):
        errors.append(f"{where}: give exactly one of 'table' (value of each code) or 'generator'")
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
    family_kinds = _families()[0]
    entries = _Entries()
    for path, doc in _read_docs(dirs if dirs is not None else format_dirs(), errors):
        _collect(path.name, doc, entries, family_kinds, errors)
    codebooks = _build_codebooks(entries.codebooks, errors)
    elements = _build_elements(entries, errors)
    formats: dict[str, NumberFormat] = {}
    for name, (where, table) in entries.formats.items():
        if name not in entries.invalid:
            fmt = _build_entry(name, where, table, elements, codebooks, family_kinds, errors)
            if fmt is not None:
                formats[name] = fmt
    if errors:
        raise CatalogError(errors)
    return formats


@dataclass
class _Entries:
    """The raw tables of a load: ``name -> (where, table)`` for formats and codebooks, and the
    formats whose schema check failed (reported already; building them would only add noise)."""

    formats: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    codebooks: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)


def read_toml(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """One catalog file parsed: ``(doc, None)``, or ``(None, problem)`` where the problem names the
    file: a folder or a dangling link named ``*.toml``, unreadable, not UTF-8 (TOML v1.0.0 §
    "Spec": a TOML file must be valid UTF-8) or not valid TOML. Shared by the format and the
    accelerator catalogs."""
    if not path.is_file():
        what = "a dangling link" if path.is_symlink() else "a folder" if path.is_dir() else "not a regular file"
        return None, f"{path}: cannot read: {what}, not a TOML file"
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh), None
    except tomllib.TOMLDecodeError as exc:
        return None, f"{path.name}: not valid TOML: {exc}"
    except UnicodeDecodeError as exc:
        return None, f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); TOML files are UTF-8"
    except OSError as exc:
        return None, f"{path}: cannot read: {exc.strerror or exc}"


def catalog_folders(dirs: list[Path], variable: str, errors: list[str]) -> list[Path]:
    """The folders of ``dirs`` that exist; each missing one is an error naming the environment
    variable (or argument) that asked for it (both catalogs treat a missing folder the same way)."""
    found = []
    for d in dirs:
        if d.is_dir():
            found.append(d)
        else:
            errors.append(f"{d}: catalog folder does not exist (named in {variable})" if not d.exists()
                          else f"{d}: not a folder (named in {variable})")
    return found


def _read_docs(dirs: list[Path], errors: list[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every ``*.toml`` of each folder, parsed (a missing folder or an unreadable file is an error)."""
    for d in catalog_folders(dirs, "HWSIM_FORMATS_PATH", errors):
        for path in sorted(d.glob("*.toml")):
            doc, problem = read_toml(path)
            if problem is not None:
                errors.append(problem)
            elif doc is not None:
                yield path, doc


def _collect(file: str, doc: dict[str, Any], entries: _Entries, family_kinds: Mapping[str, KindSpec],
             errors: list[str]) -> None:
    """Check the top-level tables of one file and add them to ``entries`` (names unique)."""
    for name, table in doc.items():
        if name == "codebooks" and isinstance(table, dict):
            _collect_codebooks(file, table, entries.codebooks, errors)
            continue
        where = f"{file}:{name}"
        if not isinstance(table, dict):
            errors.append(f"{where}: expected a table [{name}], got {type(table).__name__}")
            continue
        if name in entries.formats:
            errors.append(f"{where}: duplicate format name (also in {entries.formats[name][0].split(':')[0]})")
            continue
        kind = table.get("kind")
        if kind not in _CORE and kind not in family_kinds:
            errors.append(f"{where}.kind: {kind!r} not one of {sorted([*_CORE, *family_kinds])}")
            continue
        if not _check_entry(where, table, family_kinds, errors):
            entries.invalid.add(name)
        entries.formats[name] = (where, table)


def _collect_codebooks(file: str, tables: dict[str, Any], out: dict[str, tuple[str, dict[str, Any]]],
                       errors: list[str]) -> None:
    """The ``[codebooks.NAME]`` tables of one file (names unique)."""
    for cb_name, cb_table in tables.items():
        cb_where = f"{file}:codebooks.{cb_name}"
        if not isinstance(cb_table, dict):
            errors.append(f"{cb_where}: expected a table, got {type(cb_table).__name__}")
        elif cb_name in out:
            errors.append(f"{cb_where}: duplicate codebook name")
        else:
            out[cb_name] = (cb_where, cb_table)


def _check_entry(where: str, table: dict[str, Any], family_kinds: Mapping[str, KindSpec],
                 errors: list[str]) -> bool:
    """Schema check of one format entry (a known ``kind``) and its inline element tables."""
    n_before = len(errors)
    kind = table["kind"]
    schema = _family_schema(kind, family_kinds[kind]) if kind in family_kinds else _CORE[kind]
    schema.check(where, table, errors)
    if not str(table.get("reference", "")).strip():
        errors.append(f"{where}.reference: missing or empty (every entry cites its spec)")
    for key, kinds in _INLINE:
        inner = table.get(key)
        if isinstance(inner, dict):
            if inner.get("kind") not in kinds:
                errors.append(f"{where}.{key}.kind: {inner.get('kind')!r} not one of {list(kinds)}")
            else:
                _CORE[inner["kind"]].check(f"{where}.{key}", inner, errors)
    return len(errors) == n_before


def _family_schema(kind: str, spec: KindSpec) -> Schema:
    """The :class:`Schema` of a format-family kind, from its :class:`KindSpec`."""
    types = {**_FAMILY_COMMON, **spec.schema}
    return Schema({key: Field(t, required=key in spec.required,
                              allowed=tuple(spec.allowed[key]) if key in spec.allowed else None)
                   for key, t in types.items()}, f"kind {kind!r}")


def _build_codebooks(raw: dict[str, tuple[str, dict[str, Any]]], errors: list[str]) -> dict[str, Any]:
    out = {}
    for cb_name, (cb_where, cb_table) in raw.items():
        cb = _codebook_from(cb_where, cb_name, cb_table, errors)
        if cb is not None:
            out[cb_name] = cb
    return out


def _build_elements(entries: _Entries, errors: list[str]) -> dict[str, Element]:
    """The element types of the valid ``float``/``int`` entries, by name (for ``scaled`` entries)."""
    elements: dict[str, Element] = {}
    for name, (where, table) in entries.formats.items():
        if table["kind"] in ("float", "int") and name not in entries.invalid:
            try:
                elements[name] = _element_from(table)
            except _BUILD_ERRORS as exc:
                errors.append(f"{where}: {exc}")
    return elements


def _build_entry(name: str, where: str, table: dict[str, Any], elements: Mapping[str, Element],
                 codebooks: Mapping[str, Any], family_kinds: Mapping[str, KindSpec],
                 errors: list[str]) -> NumberFormat | None:
    """One checked entry -> its format (None, with the problem appended to ``errors``, if it fails)."""
    kind = table["kind"]
    try:
        if kind in family_kinds:
            return family_kinds[kind].build(name, {k: v for k, v in table.items() if k != "kind"}, codebooks)
        if kind in ("float", "int"):  # an element that failed to build is reported already
            return Format(name=name, element=elements[name], **_options(table)) if name in elements else None
        return _build_scaled(name, where, table, elements, errors)
    except _BUILD_ERRORS as exc:
        errors.append(f"{where}: {exc}")
        return None


def _options(table: Mapping[str, Any]) -> dict[str, Any]:
    """The Format keywords every core entry may set: rounding, saturate and the metadata."""
    return {**{k: table[k] for k in ("rounding", "saturate") if k in table},
            "reference": table.get("reference", ""), "description": table.get("description", ""),
            "ml_dtypes": table.get("ml_dtypes")}


def _build_scaled(name: str, where: str, table: dict[str, Any], elements: Mapping[str, Element],
                  errors: list[str]) -> Format | None:
    """A ``scaled`` entry: its element and scale element by catalog name or as inline tables."""
    el_ref = table["element"]
    if isinstance(el_ref, dict):
        element = _element_from(el_ref)
    elif el_ref in elements:
        element = elements[el_ref]
    else:
        errors.append(f"{where}.element: " + unknown_name("element format", el_ref, elements))
        return None
    scale_el = None
    if "scale_element" in table:
        se_ref = table["scale_element"]
        # inline tables hold elements that are no format themselves (unsigned UE5M3)
        scale_el = _element_from(se_ref) if isinstance(se_ref, dict) else elements.get(se_ref)
        if not isinstance(scale_el, FloatElement):
            errors.append(f"{where}.scale_element: " + unknown_name(
                "float element", str(se_ref), [n for n, e in elements.items() if isinstance(e, FloatElement)]))
            return None
    return Format(name=name, element=element, block_size=table.get("block_size"),
                  scale_rule=table.get("scale_rule"), scale_element=scale_el,
                  tensor_scale=table.get("tensor_scale", False), **_options(table))


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
    for path, doc in _read_docs(dirs if dirs is not None else format_dirs(), errors):
        codebooks = doc.get("codebooks", {})
        for cb_name, cb_table in codebooks.items() if isinstance(codebooks, dict) else ():
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
            element = _catalog_element(el) if isinstance(el, str) else el.element
            se = params.pop("scale_element", None)
            extra = {"block_size": params.pop("block_size"), "scale_rule": params.pop("scale_rule", "pow2"),
                     "scale_element": scale_element(se),
                     "tensor_scale": params.pop("tensor_scale", False)}
            default_name = f"block_{el if isinstance(el, str) else el.name}_{extra['block_size']}"
    except KeyError as exc:
        raise FormatError(f"hwsim.format({kind!r}, ...): missing parameter {exc.args[0]!r}") from None
    except ValueError as exc:
        raise FormatError(f"hwsim.format({kind!r}, ...): {exc}") from None
    if params:
        raise FormatError(f"hwsim.format({kind!r}, ...): unknown parameter(s) {sorted(params)}")
    return Format(name=name or default_name, element=element, reference="user-defined", **extra, **common)


def _catalog_element(name: str) -> Element:
    """The element type of the core catalog format ``name`` (for ``build_format("block", ...)``)."""
    fmt = get_format(name)
    if not isinstance(fmt, Format):
        raise FormatError(f"format {name!r} is a {type(fmt).__name__}, not an element-plus-scaling format: "
                          f"it has no element type to build a block format from")
    return fmt.element


def scale_element(se: Any) -> FloatElement | None:
    """A block-scale element given in code: a :class:`~hwsim.numerics.elements.FloatElement`, an
    inline table ``{"kind": "float", "exp_bits": 5, "man_bits": 3, "bias": 15, "specials": "fnu"}``
    (as in the catalog TOML), or the name of an unscaled float catalog format (``"fp8_e4m3"``).

    Raises:
        FormatError: a scaled format (its element would silently become the scale), an integer
            element, an incomplete table, or another type.
    """
    if se is None or isinstance(se, FloatElement):
        return se
    if isinstance(se, Mapping):
        if se.get("kind") != "float":
            raise FormatError(f"scale_element {dict(se)!r}: an inline scale element needs kind = 'float'")
        try:
            el = _element_from(se)
        except KeyError as exc:
            raise FormatError(f"scale_element {dict(se)!r} lacks {exc.args[0]!r}") from None
        except ValueError as exc:
            raise FormatError(f"scale_element {dict(se)!r}: {exc}") from None
        assert isinstance(el, FloatElement)
        return el
    if isinstance(se, str):
        fmt = get_format(se)
        if not isinstance(fmt, Format) or fmt.is_scaled or not isinstance(fmt.element, FloatElement):
            raise FormatError(
                f"scale_element {se!r} is {'a scaled format' if fmt.is_scaled else 'not a float element'}: "
                f"a scale element is a float element type (a plain float catalog format such as "
                f"'fp8_e4m3', an inline table {{kind = 'float', exp_bits, man_bits[, bias, specials]}}, "
                f"or a FloatElement)")
        return fmt.element
    raise FormatError(f"scale_element must be a FloatElement, an inline table or a float format name, "
                      f"got {type(se).__name__}")


def get_format(name: str, /, **overrides: Any) -> NumberFormat:
    """Catalog lookup (``hwsim.format``); ``fp``/``int``/``block`` build a format in code."""
    if not isinstance(name, str):
        raise FormatError(f"format name must be a str, got {type(name).__name__}")
    if name in _BUILDERS:
        return build_format(name, **overrides)
    catalog = _cached(tuple(format_dirs()))
    fmt = catalog.get(name)
    if fmt is None:
        raise FormatError(unknown_name("format", name, list(catalog) + list(_BUILDERS)))
    if "scale_element" in overrides:
        overrides["scale_element"] = scale_element(overrides["scale_element"])
    return fmt.replace(**overrides) if overrides else fmt

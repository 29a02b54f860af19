"""The accelerator catalog: ``accelerators/*.toml`` -> validate (collect every error) -> Accelerator.

STYLE P8: load with :mod:`tomllib`, check a schema and cross-field rules, collect every problem
as ``file:table.key: message``, raise one :class:`~hwsim.errors.CatalogError` holding all of
them; only this module touches raw dicts. Numeric fields carry their unit in the name
(``clock_mhz``, ``sram_kib``, ``dram_gb_per_s``, ``*_pj``, ``*_um2``); the few dimensionless
counts (``rows``, ``cols``, ``units``, ``mma_m``...) are listed in :data:`COUNT_FIELDS`.

Search path: the ``accelerators/`` folder of the hwsim source tree, then every folder in the
environment variable ``HWSIM_ACCELERATORS_PATH`` (``os.pathsep``-separated), then ``path=``
arguments. Names must be unique across all files.

File layout (see docs/cost-models.md for every field)::

    name = "tpu-v1-like"
    reference = "Jouppi et al., ISCA 2017"
    mac_cost = "table" | "rtl"   (optional; "rtl": MAC costs from synthesized RTL, hwsim.arch.rtl_cost)
    mac_cost_fallback = "none" | "table"   (optional, with "rtl": cost of pairs without a block)
    [compute]   kind = "systolic" | "bitserial" | "tensorcore" | "lut", clock_mhz, node_nm, formats, ...
    [memory]    ifmap_sram_kib, filter_sram_kib, ofmap_sram_kib, dram_gb_per_s, dram, ...
                model = "hwsim" | "bitmod" (optional; "bitmod": the official BitMoD simulator's
                memory rules, bus_bytes_per_cycle, no output buffer: ofmap_sram_kib may be omitted)
    [energy]    any EnergyTable field, e_mac_pj, mac_area_um2 (all optional)
    [sources]   "compute.rows" = "where the number comes from"   (one per numeric field)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.arch.accelerator import Accelerator, MemorySpec
from hwsim.arch.bitserial import SCHEDULES
from hwsim.arch.dataflow import Dataflow
from hwsim.arch.energy import EnergyTable, operand_bits
from hwsim.arch.memory import MEMORY_MODELS
from hwsim.arch.rtl_cost import MAC_COST_FALLBACKS, MAC_COST_MODES, RtlMacCosts, check_rtl_formats
from hwsim.arch.units import LUT_TABLE_FORMATS, BitSerialUnit, LutUnit, SystolicUnit, TensorCoreUnit
from hwsim.catalog import catalog_folders, get_format, read_toml
from hwsim.errors import CatalogError, HwsimError, unknown_name
from hwsim.schema import Field, Schema

__all__ = ["accelerator_dirs", "load_accelerators", "accelerator", "accelerators", "operand_format",
           "COUNT_FIELDS", "UNIT_SUFFIXES", "schema_fields"]

_ROOT = Path(__file__).resolve().parent.parent.parent

_NUM = (int, float)
_FMT = (str, dict)
_TOP = {"name": str, "reference": str, "description": str, "mac_cost": str, "mac_cost_fallback": str}
_COMPUTE_COMMON = {"kind": str, "clock_mhz": _NUM, "node_nm": _NUM, "a_format": _FMT,
                   "w_format": _FMT, "acc_format": _FMT}
_COMPUTE = {
    "systolic": {"rows": int, "cols": int, "dataflow": str, "lanes": int, "schedule": str},
    "bitserial": {"rows": int, "cols": int, "dataflow": str, "w_bits_per_cycle": int,
                  "w_cycles_per_weight": (int, str), "lanes": int, "schedule": str},
    "tensorcore": {"mma_m": int, "mma_n": int, "mma_k": int, "units": int, "mma_cycles": _NUM,
                   "pipeline_latency_cycles": _NUM, "block_m": int, "block_n": int,
                   "throughput": dict},
    "lut": {"units": int, "lookups_per_cycle": int, "precompute_per_cycle": _NUM, "table_kib": _NUM, "g": int,
            "table_format": str, "mirror": bool, "precompute_parallel": bool},
}
_MEMORY = {"ifmap_sram_kib": _NUM, "filter_sram_kib": _NUM, "ofmap_sram_kib": _NUM,
           "dram_gb_per_s": _NUM, "dram": str, "dram_pj_per_bit": _NUM, "double_buffered": bool,
           "model": str, "bus_bytes_per_cycle": _NUM}
_ENERGY = {**{f.name: _NUM for f in fields(EnergyTable)}, "e_mac_pj": _NUM, "mac_area_um2": _NUM}
_REQUIRED_MEMORY = ("ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib", "dram_gb_per_s")
_ALLOWED = {"kind": tuple(_COMPUTE), "dataflow": tuple(d.value for d in Dataflow), "mac_cost": MAC_COST_MODES,
            "mac_cost_fallback": MAC_COST_FALLBACKS, "schedule": SCHEDULES, "model": MEMORY_MODELS,
            "table_format": tuple(LUT_TABLE_FORMATS)}
_ZERO_OK = {"pipeline_latency_cycles"}
_OPTIONAL_COMPUTE = {"w_cycles_per_weight", "lanes", "schedule", "g", "table_format", "mirror", "precompute_parallel"}


def _schema(types: Mapping[str, Any], required: Any = (), label: str = "") -> Schema:
    """The :class:`Schema` of a table from its key -> types map: every number (of any key) is > 0
    (>= 0 for the keys of ``_ZERO_OK``), enumerated keys take the ``_ALLOWED`` values."""
    return Schema({key: Field(t, required=key in required, allowed=_ALLOWED.get(key), minimum=0,
                              inclusive=key in _ZERO_OK)
                   for key, t in types.items()}, label)


_TOP_SCHEMA = _schema(_TOP, required=("name", "reference"))
_COMPUTE_SCHEMAS = {kind: _schema({**_COMPUTE_COMMON, **kind_fields}, label=f"kind {kind!r}",
                                  required={**_COMPUTE_COMMON, **kind_fields}.keys() - _OPTIONAL_COMPUTE)
                    for kind, kind_fields in _COMPUTE.items()}
#: a [compute] table of unknown kind: its bad kind is reported once; every kind's keys are accepted
_ANY_COMPUTE_SCHEMA = _schema({**{k: t for kf in _COMPUTE.values() for k, t in kf.items()}, **_COMPUTE_COMMON})
_MEMORY_SCHEMA = _schema(_MEMORY, required=_REQUIRED_MEMORY)
_ENERGY_SCHEMA = _schema(_ENERGY)

#: Numeric fields without a physical unit: counts of things.
COUNT_FIELDS = frozenset({"rows", "cols", "units", "mma_m", "mma_n", "mma_k", "block_m", "block_n", "lanes", "g"})
#: Every other numeric field name ends in one of these.
UNIT_SUFFIXES = ("_mhz", "_nm", "_kib", "_gb_per_s", "_pj", "_pj_per_bit", "_pj_per_64b", "_um2",
                 "_um2_per_kib", "_cycles", "_per_cycle", "_cycles_per_weight")


def schema_fields() -> dict[str, dict[str, Any]]:
    """Every table and its typed fields (for docs and the unit-suffix test)."""
    compute = dict(_COMPUTE_COMMON)
    for kind_fields in _COMPUTE.values():
        compute.update(kind_fields)
    return {"top": dict(_TOP), "compute": compute, "memory": dict(_MEMORY), "energy": dict(_ENERGY)}


def operand_format(spec: Any) -> Any:
    """An operand format as the cost model takes it: a catalog name (from a TOML file, an override
    or the CLI) resolved once, here at the catalog boundary; objects and inline tables unchanged.

    Raises:
        FormatError: unknown name (the message lists the known formats).
    """
    return get_format(spec) if isinstance(spec, str) else spec


class AcceleratorNotFound(HwsimError, ValueError):
    """Unknown accelerator name, or an override naming no field."""


def accelerator_dirs(path: str | Path | list[str | Path] | None = None) -> list[Path]:
    """Folders searched for ``*.toml``: built-in, ``HWSIM_ACCELERATORS_PATH``, then ``path``."""
    dirs = [_ROOT / "accelerators"]
    extra = os.environ.get("HWSIM_ACCELERATORS_PATH", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    if path is not None:
        dirs += [Path(p) for p in (path if isinstance(path, list) else [path])]
    return dirs


def _validate(file: str, doc: dict[str, Any], errors: list[str]) -> dict[str, Any] | None:
    """Schema + cross-field rules for one file; returns the checked tables or None."""
    n_before = len(errors)
    tables = _check_tables(file, doc, errors)
    _check_compute_rules(file, tables["compute"], errors)
    _check_sources(file, doc, tables, errors)
    if len(errors) == n_before and tables["top"].get("mac_cost") == "rtl":
        _check_rtl(file, tables, errors)
    return None if len(errors) > n_before else tables


def _check_rtl(file: str, tables: dict[str, Any], errors: list[str]) -> None:
    """``mac_cost = "rtl"``: the synthesized-cost CSV has a block for the entry's default formats."""
    c = tables["compute"]
    try:
        source = RtlMacCosts.load(EnergyTable())
        bits = [operand_bits(operand_format(c[k])) for k in ("a_format", "w_format")]
    except HwsimError as exc:
        errors.append(f"{file}:mac_cost: {exc}")
        return
    errors.extend(f"{file}:mac_cost: {msg}" for msg in check_rtl_formats(source, [(bits[0], bits[1])]))


def _check_tables(file: str, doc: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """Each table against its schema; the keys that passed, by table (top, compute, memory, energy,
    sources)."""
    known_tables = {"compute", "memory", "energy", "sources"}
    top = _TOP_SCHEMA.check(f"{file}:", {k: v for k, v in doc.items() if k not in known_tables}, errors)
    compute = _check_compute(file, doc.get("compute"), errors)
    memory = _check_memory(file, doc, errors)
    energy = _ENERGY_SCHEMA.check(f"{file}:energy", doc.get("energy", {}), errors)
    sources = doc.get("sources", {})
    if not isinstance(sources, dict):
        errors.append(f"{file}:sources: expected a table")
        sources = {}
    return {"top": top, "compute": compute, "memory": memory, "energy": energy, "sources": sources}


def _check_compute(file: str, raw: Any, errors: list[str]) -> dict[str, Any]:
    """[compute] against the schema of its kind (any kind's keys while the kind is bad)."""
    if raw is None:
        errors.append(f"{file}:compute: missing table [compute]")
        raw = {}
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if isinstance(raw, dict) and kind is None:
        errors.append(f"{file}:compute.kind: missing (required)")
    if kind in _COMPUTE_SCHEMAS:
        return _COMPUTE_SCHEMAS[kind].check(f"{file}:compute", raw, errors)
    return _ANY_COMPUTE_SCHEMA.check(f"{file}:compute", raw, errors, required=False)


def _check_memory(file: str, doc: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """[memory] against its schema, with a DRAM technology or a DRAM energy per bit."""
    if "memory" not in doc:
        errors.append(f"{file}:memory: missing table [memory]")
        return {}
    raw = doc["memory"]
    no_ofmap = isinstance(raw, dict) and raw.get("model") == "bitmod" and "ofmap_sram_kib" not in raw
    memory = _MEMORY_SCHEMA.check(f"{file}:memory", {**raw, "ofmap_sram_kib": 1} if no_ofmap else raw, errors)
    if no_ofmap:  # the official BitMoD simulator's memory has no output buffer (built as 0 KiB)
        memory.pop("ofmap_sram_kib", None)
    if isinstance(doc["memory"], dict) and not {"dram", "dram_pj_per_bit"} & doc["memory"].keys():
        errors.append(f"{file}:memory.dram: missing (required unless dram_pj_per_bit is given)")
    if "dram" in memory and memory["dram"] not in EnergyTable.dram_technologies():
        errors.append(f"{file}:memory.dram: {memory['dram']!r} not one of "
                      f"{list(EnergyTable.dram_technologies())}")
    return memory


def _check_compute_rules(file: str, compute: dict[str, Any], errors: list[str]) -> None:
    """Cross-field rules of [compute]: operand formats, term-count cycles, throughput table."""
    for key in ("a_format", "w_format", "acc_format"):
        if key in compute:
            try:
                operand_bits(operand_format(compute[key]))
            except CatalogError:  # the format catalog itself is broken: report that once, not per file
                raise
            except (HwsimError, ValueError, TypeError) as exc:
                errors.append(f"{file}:compute.{key}: {exc}")
    if isinstance(compute.get("w_cycles_per_weight"), str) and compute["w_cycles_per_weight"] != "terms":
        errors.append(f"{file}:compute.w_cycles_per_weight: {compute['w_cycles_per_weight']!r} is not a "
                      f"positive integer or 'terms' (the weight format's term count)")
    for width, factor in compute.get("throughput", {}).items():
        if not width.isdigit() or int(width) < 1:
            errors.append(f"{file}:compute.throughput.{width}: key must be an element width "
                          f"in bits (a positive integer)")
        if isinstance(factor, bool) or not isinstance(factor, _NUM) or not factor > 0:
            errors.append(f"{file}:compute.throughput.{width}: multiplier must be a number > 0, "
                          f"got {factor!r}")


def _check_sources(file: str, doc: dict[str, Any], tables: dict[str, Any], errors: list[str]) -> None:
    """Every number cites its source in [sources], and every citation names a field the file sets."""
    sources = tables["sources"]
    numeric = [f"{table}.{key}" for table in ("compute", "memory", "energy")
               for key, value in tables[table].items() if isinstance(value, _NUM) and not isinstance(value, bool)]
    for dotted in numeric:
        citation = sources.get(dotted)
        if not isinstance(citation, str) or not citation.strip():
            errors.append(f"{file}:sources.{dotted}: missing citation for this number "
                          f"(every number cites its source)")
    present = {f"{t}.{k}" for t, d in (("compute", doc.get("compute", {})), ("memory", doc.get("memory", {})),
                                       ("energy", doc.get("energy", {}))) if isinstance(d, dict) for k in d}
    for dotted in sources:
        if dotted not in present:
            errors.append(f"{file}:sources.{dotted}: cites a field this file does not set")


def _build(file: Path, t: dict[str, Any]) -> Accelerator:
    c, mem, en = t["compute"], t["memory"], dict(t["energy"])
    kind = c["kind"]
    if kind == "systolic":
        unit: Any = SystolicUnit(rows=c["rows"], cols=c["cols"], dataflow=Dataflow.parse(c["dataflow"]),
                                 lanes=c.get("lanes", 1), schedule=c.get("schedule", "systolic"))
    elif kind == "bitserial":
        unit = BitSerialUnit(rows=c["rows"], cols=c["cols"], dataflow=Dataflow.parse(c["dataflow"]),
                             w_bits_per_cycle=c["w_bits_per_cycle"],
                             w_cycles_per_weight=c.get("w_cycles_per_weight"),
                             lanes=c.get("lanes", 1), schedule=c.get("schedule", "systolic"))
    elif kind == "lut":
        unit = LutUnit(units=c["units"], lookups_per_cycle=c["lookups_per_cycle"],
                       precompute_per_cycle=c["precompute_per_cycle"], table_kib=c["table_kib"], g=c.get("g", 4),
                       table_format=c.get("table_format", "int8"), mirror=c.get("mirror", True),
                       precompute_parallel=c.get("precompute_parallel", False))
    else:
        unit = TensorCoreUnit(mma_m=c["mma_m"], mma_n=c["mma_n"], mma_k=c["mma_k"], units=c["units"],
                              mma_cycles=c["mma_cycles"],
                              pipeline_latency_cycles=c["pipeline_latency_cycles"],
                              block_m=c["block_m"], block_n=c["block_n"],
                              throughput=tuple(sorted((int(k), float(v))
                                                      for k, v in c["throughput"].items())))
    memory = MemorySpec(ifmap_sram_kib=mem["ifmap_sram_kib"], filter_sram_kib=mem["filter_sram_kib"],
                        ofmap_sram_kib=mem.get("ofmap_sram_kib", 0), dram_gb_per_s=mem["dram_gb_per_s"],
                        dram=mem.get("dram", "ddr3"), dram_pj_per_bit=mem.get("dram_pj_per_bit"),
                        double_buffered=mem.get("double_buffered", True),
                        model=mem.get("model", "hwsim"), bus_bytes_per_cycle=mem.get("bus_bytes_per_cycle"))
    e_mac, mac_area = en.pop("e_mac_pj", None), en.pop("mac_area_um2", None)
    table = EnergyTable(**{k: float(v) for k, v in en.items()})
    source = (RtlMacCosts.load(table, fallback=t["top"].get("mac_cost_fallback") == "table")
              if t["top"].get("mac_cost") == "rtl" else None)
    return Accelerator(name=t["top"]["name"], reference=t["top"]["reference"],
                       description=t["top"].get("description", ""), clock_mhz=c["clock_mhz"],
                       node_nm=c["node_nm"], a_format=operand_format(c["a_format"]),
                       w_format=operand_format(c["w_format"]), acc_format=operand_format(c["acc_format"]),
                       unit=unit, memory=memory,
                       energy=table, e_mac_pj=e_mac, mac_area_um2=mac_area, mac_cost_source=source,
                       sources=tuple(sorted(t["sources"].items())), path=file)


def load_file(file: Path, errors: list[str]) -> Accelerator | None:
    """Load one catalog file, appending problems to ``errors``."""
    doc, problem = read_toml(file)
    if doc is None:
        errors.append(problem or f"{file}: cannot read")
        return None
    checked = _validate(str(file), doc, errors)
    return None if checked is None else _build(file, checked)


def load_accelerators(path: str | Path | list[str | Path] | None = None) -> dict[str, Accelerator]:
    """Every accelerator on the search path, by name.

    Raises:
        CatalogError: listing every problem in every file (``file:table.key: message``).
    """
    errors: list[str] = []
    found: dict[str, Accelerator] = {}
    for folder in catalog_folders(accelerator_dirs(path), "HWSIM_ACCELERATORS_PATH or path=", errors):
        for file in sorted(folder.glob("*.toml")):
            acc = load_file(file, errors)
            if acc is None:
                continue
            if acc.name in found:
                errors.append(f"{file}:name: {acc.name!r} already defined in {found[acc.name].path}")
                continue
            found[acc.name] = acc
    if errors:
        raise CatalogError(errors)
    return found


def accelerators(path: str | Path | list[str | Path] | None = None) -> list[str]:
    """Names of every catalog accelerator."""
    return sorted(load_accelerators(path))


_UNIT_FIELDS = {cls: {f.name for f in fields(cls)} for cls in (SystolicUnit, BitSerialUnit, TensorCoreUnit, LutUnit)}
_MEMORY_FIELDS = {f.name for f in fields(MemorySpec)}
_ENERGY_FIELDS = {f.name for f in fields(EnergyTable)}
_TOP_FIELDS = {"description", "clock_mhz", "node_nm", "a_format", "w_format", "acc_format",
               "e_mac_pj", "mac_area_um2", "mac_cost_source"}


#: override keys whose value must be one number (the energy model reads them as Python floats)
_SCALAR_ONLY = _ENERGY_FIELDS | {"node_nm"}


def _override_field(key: str) -> Field | None:
    """The catalog schema's :class:`~hwsim.schema.Field` of an override key (None: no such field)."""
    for schema in (_ANY_COMPUTE_SCHEMA, _MEMORY_SCHEMA, _ENERGY_SCHEMA):
        if key in schema.fields:
            return schema.fields[key]
    return None


def _check_override(key: str, value: Any) -> Any:
    """An override checked by the same :class:`~hwsim.schema.Field` rules as the catalog file
    (every number finite and in range, scalars or arrays); enums and formats are parsed.

    Raises:
        AcceleratorNotFound: ``override <key>: <problem>``.
    """
    if key == "dataflow":
        return Dataflow.parse(value)
    for enum_key, allowed in (("schedule", SCHEDULES), ("model", MEMORY_MODELS)):
        if key == enum_key:
            if value not in allowed:
                raise AcceleratorNotFound(f"override {key}: {value!r} not one of {list(allowed)}")
            return value
    if key in ("a_format", "w_format", "acc_format"):
        value = operand_format(value)
        operand_bits(value)
        return value
    if key == "dram":
        if value not in EnergyTable.dram_technologies():
            raise AcceleratorNotFound(f"override dram: {value!r} not one of {list(EnergyTable.dram_technologies())}")
        return value
    if key in ("double_buffered", "mirror", "precompute_parallel") and not isinstance(value, bool | np.bool_):
        raise AcceleratorNotFound(f"override {key}: expected True or False, got {value!r}")
    if key == "table_format" and value not in LUT_TABLE_FORMATS:
        raise AcceleratorNotFound(f"override table_format: {value!r} not one of {list(LUT_TABLE_FORMATS)}")
    if key in ("description", "mac_cost_source", "double_buffered", "mirror", "precompute_parallel", "table_format"):
        return value
    if key == "throughput":
        return _check_throughput(value)
    if key == "w_cycles_per_weight" and (value is None or value == "terms"):
        return value
    if key == "bus_bytes_per_cycle" and value is None:
        return value
    spec = _override_field(key)
    if spec is None:  # an unknown key: reported by accelerator() with the allowed names
        return value
    if isinstance(value, str):
        raise AcceleratorNotFound(f"override {key}: expected a number or numeric array, got {value!r}")
    if key in _SCALAR_ONLY and np.ndim(value) != 0:
        raise AcceleratorNotFound(f"override {key}: expected one number (sweep it with one accelerator per "
                                  f"value), got an array of shape {np.shape(value)}")
    problem = Field(spec.types, minimum=0, inclusive=key in _ZERO_OK).problem(value, arrays=True)
    if problem is None and isinstance(value, list | tuple):
        value = np.asarray(value)
    if problem is not None:
        raise AcceleratorNotFound(f"override {key}: {problem}")
    return value


def _check_throughput(value: Any) -> tuple[tuple[int, float], ...]:
    """A ``throughput`` override (``{element bits: MAC-rate multiplier}``) as sorted pairs."""
    if not isinstance(value, Mapping) or not value:
        raise AcceleratorNotFound(f"override throughput: expected a table {{bits: multiplier}}, got {value!r}")
    pairs = []
    for width, factor in dict(value).items():
        try:
            bits = int(width)
        except (TypeError, ValueError):
            bits = 0
        if isinstance(width, bool) or bits < 1 or str(bits) != str(width).strip():
            raise AcceleratorNotFound(f"override throughput: key {width!r} is not an element width in bits "
                                      f"(a positive integer)")
        problem = Field((int, float), minimum=0).problem(factor)
        if problem is not None:
            raise AcceleratorNotFound(f"override throughput.{width}: multiplier {problem}")
        pairs.append((bits, float(factor)))
    return tuple(sorted(pairs))


def accelerator(name: str, path: str | Path | list[str | Path] | None = None,
                **overrides: Any) -> Accelerator:
    """The catalog accelerator ``name``, with any unit / memory / energy / top field overridden.

    Overrides may be numpy arrays (``rows=np.arange(8, 257, 8)``) to sweep design points in
    one vectorized call. ``path`` adds catalog folders (as does ``HWSIM_ACCELERATORS_PATH``).

    Raises:
        AcceleratorNotFound: unknown name or override key. CatalogError: a bad catalog file.
    """
    catalog = load_accelerators(path)
    if name not in catalog:
        raise AcceleratorNotFound(unknown_name("accelerator", name, catalog))
    acc = catalog[name]
    if not overrides:
        return acc
    unit_kw, mem_kw, energy_kw, top_kw = {}, {}, {}, {}
    for key, value in overrides.items():
        value = _check_override(key, value)
        if key in _UNIT_FIELDS[type(acc.unit)]:
            unit_kw[key] = value
        elif key in _MEMORY_FIELDS:
            mem_kw[key] = value
        elif key in _ENERGY_FIELDS:
            energy_kw[key] = float(value)
        elif key in _TOP_FIELDS:
            top_kw[key] = value
        else:
            allowed = _UNIT_FIELDS[type(acc.unit)] | _MEMORY_FIELDS | _ENERGY_FIELDS | _TOP_FIELDS
            raise AcceleratorNotFound(unknown_name(f"override for {acc.unit.kind} accelerator {name!r}",
                                                   key, allowed))
    energy = acc.energy.replace(**energy_kw)
    if isinstance(acc.mac_cost_source, RtlMacCosts) and "mac_cost_source" not in top_kw:
        top_kw["mac_cost_source"] = acc.mac_cost_source.with_table(energy)  # table terms follow the overrides
    return replace(acc, unit=replace(acc.unit, **unit_kw), memory=replace(acc.memory, **mem_kw),
                   energy=energy, **top_kw)

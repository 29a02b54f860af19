"""A study as data: the ``study.toml`` schema, its validation and the grid of design points.

A study file names **axes** (lists of values), optional **zips** (axes that vary together
instead of crossing), **exclude** rules (points to drop) and the **metrics** to compute::

    description = "SmolLM2 perplexity vs area and energy"
    metrics = ["accuracy", "cost"]

    [axes]
    model = ["smollm2"]
    weights = ["mxfp4", "nvfp4", "int4_g128"]   # ["*"]: every catalog format
    activations = ["fp16"]           # or "same": the weight format
    accelerator = ["mx-systolic-32"]
    dataflow = ["ws", "os"]
    rows = [8, 16, 32, 64, 128]
    cols = [8, 16, 32, 64, 128]

    [[zip]]
    axes = ["rows", "cols"]          # square arrays: 5 points, not 25

    [[exclude]]
    weights = "int4_g128"
    dataflow = "os"

Metrics: ``qsnr`` (QSNR of ``weights`` on each ``data`` source), ``accuracy`` (the model's metric
on the simulated datapath: :func:`hwsim.bridge.run`), ``cost`` (cycles, energy and area of the
model's GEMMs, or of a ``workload``, on each accelerator design point), ``layers`` (``cost``
broken down per layer in the store's ``layers`` table).

Every problem of a file is reported at once, each with its key (``study.toml:axes.weights[2]``)
and the closest known name, as the catalogs do (:mod:`hwsim.schema`).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsim.errors import CatalogError, HwsimError

__all__ = ["Study", "Block", "load_study", "point_key", "block_keys", "block_keys64", "keys_to_u64", "hex_keys",
           "accuracy_key", "METRICS", "ACCURACY_AXES", "DESIGN_AXES", "FORMAT_AXES", "StudyError"]


class StudyError(CatalogError):
    """A study file with problems: ``messages`` holds all of them, each naming its key."""

    def __init__(self, messages: Iterable[str] | str, path: Path | str | None = None):
        msgs = [messages] if isinstance(messages, str) else list(messages)
        HwsimError.__init__(self, (f"{len(msgs)} problem(s) in {path}:\n  " if path else "") + "\n  ".join(msgs))
        self.messages = msgs


METRICS = ("qsnr", "accuracy", "cost", "layers")
#: axes that select model evaluations: the accuracy of a point depends on these only
ACCURACY_AXES = ("model", "weights", "activations", "kv_cache", "accumulate", "eval_size")
#: axes whose values are format names
FORMAT_AXES = ("weights", "activations", "kv_cache")
#: axes of the accelerator design point (besides any override key of the accelerator catalog)
DESIGN_AXES = ("accelerator", "dataflow")
#: the other named axes
OTHER_AXES = ("data", "seed", "workload", "seq", "batch")
#: defaults of axes a study may leave out (one value each)
DEFAULTS: dict[str, Any] = {"activations": "same", "kv_cache": "activations", "accumulate": "exact",
                            "eval_size": "ci", "seed": 0, "seq": 128, "batch": 1}
#: keys of the top level of a study file
TOP_KEYS = ("name", "description", "metrics", "axes", "zip", "exclude", "options")
#: keys of ``[options]``
OPTION_KEYS = {"threads": int, "batch_points": int, "reference_accelerator": str}
_STRING_AXES = {"model", "weights", "activations", "kv_cache", "accumulate", "eval_size", "accelerator",
                "dataflow", "data", "workload"}
_INT_AXES = {"seed", "seq", "batch"}


def design_axes(axes: Iterable[str]) -> list[str]:
    """The axes that are not named axes: numeric overrides of the accelerator catalog (rows, cols,
    *_sram_kib, clock_mhz, ...), in the order given."""
    named = set(ACCURACY_AXES) | set(DESIGN_AXES) | set(OTHER_AXES)
    return [a for a in axes if a not in named]


def _close(name: str, known: list[str]) -> str:
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def canonical(config: Mapping[str, Any]) -> str:
    """The canonical JSON text of a configuration (sorted keys, no spaces): what keys hash."""
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), default=str)


_MASK64 = (1 << 64) - 1


def _splitmix64(x: Any) -> Any:
    """SplitMix64's finalizer (Steele, Lea, Flood, OOPSLA 2014) on a uint64 array: the mixing
    step of :func:`block_keys`."""
    import numpy as np

    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def block_keys64(config: Mapping[str, Any], design: Mapping[str, Any]) -> Any:
    """The keys of a block's points as a ``[P]`` uint64 array: SHA-256 of the canonical JSON of
    the shared configuration (first 8 bytes), then for each numeric design axis in name order one
    SplitMix64 step over the axis name's hash and one over the value's float64 bits (so
    ``rows = 32`` and ``rows = 32.0`` are one point). Vectorized: a million keys in a fraction of
    a second."""
    import numpy as np

    size = len(next(iter(design.values()))) if design else 1
    h = np.full(size, _hash64(canonical(config)), dtype=np.uint64)
    for name in sorted(design):
        values = np.ascontiguousarray(np.asarray(design[name], dtype=np.float64)).view(np.uint64)
        h = _splitmix64(h ^ np.uint64(_hash64(name)))
        h = _splitmix64(h ^ values)
    return h


def block_keys(config: Mapping[str, Any], design: Mapping[str, Any]) -> Any:
    """:func:`block_keys64` as 16-digit hex strings (the store's ``key`` column)."""
    return hex_keys(block_keys64(config, design))


def keys_to_u64(keys: Any) -> Any:
    """16-digit hex keys (a numpy str array or a pyarrow string array) -> uint64, vectorized."""
    import numpy as np

    if hasattr(keys, "buffers"):  # pyarrow StringArray: 16 bytes per key back to back
        offsets = np.frombuffer(keys.buffers()[1], dtype=np.int32)[keys.offset:keys.offset + len(keys) + 1]
        if len(keys) and keys.null_count == 0 and np.all(np.diff(offsets) == 16):
            raw = np.frombuffer(keys.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 16)
        else:
            raw = np.asarray(keys.to_numpy(zero_copy_only=False), dtype="S16").view(np.uint8).reshape(-1, 16)
    else:
        raw = np.asarray(keys, dtype="S16").view(np.uint8).reshape(-1, 16)
    table = np.zeros(256, dtype=np.uint8)
    table[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
    nibbles = table[raw]
    packed = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])  # [N, 8] big-endian bytes
    return packed.view(">u8").ravel().astype(np.uint64)


def hex_keys(h: Any) -> Any:
    """uint64 array -> array of 16-digit lower-case hex strings (vectorized ``f"{v:016x}"``)."""
    import numpy as np

    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = ((h[:, None] >> shifts) & np.uint64(15)).astype(np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    return chars.view("S16").ravel().astype("U16")


def point_key(config: Mapping[str, Any], design_keys: Sequence[str] = ()) -> str:
    """The key of one point (``design_keys``: which of its entries are numeric design axes)."""
    shared = {k: v for k, v in config.items() if k not in design_keys}
    return str(block_keys(shared, {k: [config[k]] for k in design_keys})[0])


def accuracy_key(config: Mapping[str, Any]) -> str:
    """The identity of the model evaluation a point needs (its :data:`ACCURACY_AXES` only)."""
    return hashlib.sha256(canonical({k: config[k] for k in ACCURACY_AXES if k in config}).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Block:
    """Design points that share every non-design axis: ``config`` (the shared part) and
    ``design`` (numeric design axis -> ``[P]`` values, one entry per point)."""

    config: dict[str, Any]
    design: dict[str, Any]

    @property
    def size(self) -> int:
        return len(next(iter(self.design.values()))) if self.design else 1

    def keys(self) -> Any:
        """The point keys of the block (:func:`block_keys`: a ``[P]`` array of str)."""
        return block_keys(self.config, self.design)

    def keys64(self) -> Any:
        """The point keys as uint64 (:func:`block_keys64`)."""
        return block_keys64(self.config, self.design)


def _design_grid(axes: Mapping[str, list[Any]], groups: list[tuple[str, ...]]) -> dict[str, Any]:
    """The product of the design-axis groups as flat ``[P]`` arrays (zipped axes together)."""
    import numpy as np

    if not groups:
        return {}
    lengths = [len(axes[g[0]]) for g in groups]
    index = np.indices(lengths).reshape(len(groups), -1)
    out = {}
    for gi, g in enumerate(groups):
        for a in g:
            out[a] = np.asarray(axes[a])[index[gi]]
    return out


@dataclass
class Study:
    """A validated study: its file, axes, zips, exclusions, metrics and options."""

    path: Path
    name: str
    description: str
    metrics: tuple[str, ...]
    axes: dict[str, list[Any]]
    zips: list[tuple[str, ...]] = field(default_factory=list)
    exclude: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def design_keys(self) -> list[str]:
        """Axes of the accelerator design point that are catalog overrides (rows, cols, ...)."""
        return design_axes(self.axes)

    def blocks(self) -> Iterator[Block]:
        """The grid as blocks: one per combination of the non-design axes (defaults filled,
        ``activations = "same"`` resolved), each with the ``[P]`` arrays of its numeric design
        axes (their product, zipped design axes together, exclusions applied). A zip that mixes
        design and other axes is expanded with the other axes; its design values still go into
        ``design`` (the same value for every point of the block), because ``design`` is what the
        accelerator is built from."""
        import numpy as np

        design = set(self.design_keys)
        vector_groups = [z for z in self.zips if set(z) <= design]
        vector_groups += [(a,) for a in self.design_keys if not any(a in z for z in self.zips)]
        python_groups = [z for z in self.zips if not set(z) <= design]
        zipped = {a for z in self.zips for a in z}
        python_groups += [(a,) for a in self.axes if a not in zipped and a not in design]
        value_lists = [list(zip(*(self.axes[a] for a in g), strict=True)) for g in python_groups]
        fixed = {k: v for k, v in DEFAULTS.items() if k not in self.axes and self._uses(k)}
        grid = _design_grid(self.axes, vector_groups)
        for combo in itertools.product(*value_lists):
            config = dict(fixed)
            for g, values in zip(python_groups, combo, strict=True):
                config.update(zip(g, values, strict=True))
            if config.get("activations") == "same" and "weights" in config:
                config["activations"] = config["weights"]
            arrays = dict(grid)
            size = len(next(iter(arrays.values()))) if arrays else 1
            for k in [k for k in config if k in design]:  # from a zip with other axes
                arrays[k] = np.full(size, config.pop(k))
            keep = np.ones(size, dtype=bool)
            dropped = False
            for rule in self.exclude:
                if not all(config.get(k) == v for k, v in rule.items() if k not in arrays):
                    continue
                vector = {k: v for k, v in rule.items() if k in arrays}
                if not vector:
                    dropped = True
                    break
                hit = np.ones_like(keep)
                for k, v in vector.items():
                    hit &= arrays[k] == v
                keep &= ~hit
            if dropped or not keep.any():
                continue
            yield Block(config, {k: v[keep] for k, v in arrays.items()})

    def points(self) -> Iterator[dict[str, Any]]:
        """Every design point's full configuration, one dict each (small grids, tests)."""
        for block in self.blocks():
            for i in range(block.size):
                yield {**block.config, **{k: v[i].item() for k, v in block.design.items()}}

    def _uses(self, axis: str) -> bool:
        """Whether a defaulted axis belongs to this study's points."""
        if axis in ("activations", "kv_cache", "accumulate", "eval_size"):
            return "model" in self.axes
        if axis == "seed":
            return "data" in self.axes
        if axis in ("seq", "batch"):
            return "cost" in self.metrics and "model" in self.axes and "accuracy" not in self.metrics
        return True

    def size(self) -> int:
        return sum(block.size for block in self.blocks())


# ---- loading and validation -------------------------------------------------------------------
def load_study(path: str | Path) -> Study:
    """Read and validate ``path`` (a ``study.toml`` or the folder holding one).

    Raises:
        StudyError: every problem of the file, one per line, each naming its key.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "study.toml"
    try:
        text = path.read_text()
    except OSError as exc:
        raise StudyError(f"cannot read study {path}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: not valid TOML: {exc}") from None
    errors: list[str] = []
    study = _check(path, doc, errors)
    if errors:
        raise StudyError(errors, path)
    study.text = text
    if study.size() == 0:
        raise StudyError(f"{path}: the grid is empty (every point excluded)")
    return study


def _check(path: Path, doc: dict[str, Any], errors: list[str]) -> Study:
    where = path.name
    for key in doc:
        if key not in TOP_KEYS:
            errors.append(f"{where}:{key}: unknown key{_close(key, list(TOP_KEYS))}; allowed: {', '.join(TOP_KEYS)}")
    metrics = _check_metrics(where, doc.get("metrics"), errors)
    axes = _check_axes(where, doc.get("axes"), errors)
    options = _check_options(where, doc.get("options", {}), errors)
    zips = _check_zips(where, doc.get("zip", []), axes, errors)
    _check_repeats(where, axes, zips, errors)
    exclude = _check_exclude(where, doc.get("exclude", []), axes, errors)
    _check_requirements(where, metrics, axes, errors)
    _check_names(where, axes, errors)
    for key in ("name", "description"):
        if key in doc and not isinstance(doc[key], str):
            errors.append(f"{where}:{key}: expected a string, got {type(doc[key]).__name__}")
    return Study(path=path, name=str(doc.get("name", path.parent.name)), description=str(doc.get("description", "")),
                 metrics=metrics, axes=axes, zips=zips, exclude=exclude, options=options)


def _check_metrics(where: str, value: Any, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        errors.append(f"{where}:metrics: missing (required): a list of {', '.join(METRICS)}")
        return ()
    if not isinstance(value, list) or not value:
        errors.append(f"{where}:metrics: expected a non-empty list of {', '.join(METRICS)}, got {value!r}")
        return ()
    good = []
    for i, m in enumerate(value):
        if m not in METRICS:
            errors.append(f"{where}:metrics[{i}]: unknown metric {m!r}{_close(str(m), list(METRICS))}; "
                          f"known: {', '.join(METRICS)}")
        else:
            good.append(m)
    return tuple(dict.fromkeys(good))


def _check_axes(where: str, value: Any, errors: list[str]) -> dict[str, list[Any]]:
    if not isinstance(value, dict) or not value:
        errors.append(f"{where}:axes: missing or empty: a table of axis = [values]")
        return {}
    axes = {}
    for name, values in value.items():
        key = f"{where}:axes.{name}"
        if not isinstance(values, list):
            values = [values]
        if name in FORMAT_AXES and values == ["*"]:  # every catalog format, in catalog order
            from hwsim.catalog import format_names

            values = list(format_names())
        if not values:
            errors.append(f"{key}: expected at least one value")
            continue
        want = str if name in _STRING_AXES else int if name in _INT_AXES else (int, float)
        bad = [(i, v) for i, v in enumerate(values)
               if isinstance(v, bool) or not isinstance(v, want)]  # pyright: ignore[reportArgumentType]
        for i, v in bad:
            kind = want.__name__ if isinstance(want, type) else "number"
            errors.append(f"{key}[{i}]: expected a {kind}, got {type(v).__name__} {v!r}")
        if not bad:
            axes[name] = values
    return axes


def _check_options(where: str, value: Any, errors: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.append(f"{where}:options: expected a table")
        return {}
    for key, v in value.items():
        want = OPTION_KEYS.get(key)
        if want is None:
            errors.append(f"{where}:options.{key}: unknown option{_close(key, list(OPTION_KEYS))}; "
                          f"known: {', '.join(OPTION_KEYS)}")
        elif isinstance(v, bool) or not isinstance(v, want) or (want is int and v < 1):
            errors.append(f"{where}:options.{key}: expected {'a positive int' if want is int else want.__name__}, "
                          f"got {v!r}")
    return dict(value)


def _check_zips(where: str, value: Any, axes: dict[str, list[Any]], errors: list[str]) -> list[tuple[str, ...]]:
    if not isinstance(value, list):
        errors.append(f"{where}:zip: expected an array of tables [[zip]] axes = [...]")
        return []
    zips: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for i, z in enumerate(value):
        key = f"{where}:zip[{i}]"
        names = z.get("axes") if isinstance(z, dict) else None
        if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
            errors.append(f"{key}.axes: expected a list of at least two axis names")
            continue
        ok = True
        for n in names:
            if n not in axes:
                errors.append(f"{key}.axes: {n!r} is not an axis{_close(n, list(axes))}")
                ok = False
            elif n in seen:
                errors.append(f"{key}.axes: {n!r} is already in another zip")
                ok = False
        if ok and len({len(axes[n]) for n in names}) != 1:
            lengths = ", ".join(f"{n}: {len(axes[n])}" for n in names)
            errors.append(f"{key}: zipped axes need equal lengths ({lengths})")
            ok = False
        if ok:
            seen.update(names)
            zips.append(tuple(names))
    return zips


def _check_repeats(where: str, axes: dict[str, list[Any]], zips: list[tuple[str, ...]], errors: list[str]) -> None:
    """A value twice on an axis (or a tuple twice in a zip) would make the same point twice."""
    zipped = {a for z in zips for a in z}
    for name, values in axes.items():
        if name not in zipped and len(set(map(repr, values))) != len(values):
            errors.append(f"{where}:axes.{name}: repeated values {values!r}")
    for i, z in enumerate(zips):
        tuples = list(zip(*(axes[a] for a in z), strict=True))
        if len(set(map(repr, tuples))) != len(tuples):
            errors.append(f"{where}:zip[{i}]: repeated combinations of {', '.join(z)}")


def _check_exclude(where: str, value: Any, axes: dict[str, list[Any]], errors: list[str]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        errors.append(f"{where}:exclude: expected an array of tables [[exclude]] axis = value")
        return []
    rules = []
    for i, rule in enumerate(value):
        if not isinstance(rule, dict) or not rule:
            errors.append(f"{where}:exclude[{i}]: expected a table of axis = value")
            continue
        bad = [k for k in rule if k not in axes and k not in DEFAULTS]
        for k in bad:
            errors.append(f"{where}:exclude[{i}].{k}: not an axis{_close(k, list(axes))}")
        if not bad:
            rules.append(dict(rule))
    return rules


def _check_requirements(where: str, metrics: tuple[str, ...], axes: dict[str, list[Any]], errors: list[str]) -> None:
    """Which axes each metric needs, and which it cannot use."""
    def need(axis: str, why: str) -> None:
        if axis not in axes:
            errors.append(f"{where}:axes.{axis}: missing ({why})")

    if "qsnr" in metrics:
        need("weights", "the formats whose QSNR `qsnr` measures")
        need("data", "the data `qsnr` quantizes: distributions, 'smollm2', 'minilm' or .npy paths")
    if "accuracy" in metrics:
        need("model", "the model `accuracy` evaluates")
        need("weights", "the weight format of `accuracy`")
        if len(axes.get("seed", [0])) > 1:
            errors.append(f"{where}:axes.seed: model evaluations are deterministic (fixed evaluation slices); "
                          f"seed only applies to sampled `data`")
    if "cost" in metrics or "layers" in metrics:
        need("accelerator", "the design points `cost` prices")
        if "model" not in axes and "workload" not in axes:
            errors.append(f"{where}:axes: `cost` needs a `model` (its GEMMs) or a `workload` (hwsim workloads)")
        if "model" in axes and "workload" in axes:
            errors.append(f"{where}:axes: give `model` or `workload`, not both")
        if "weights" not in axes:
            errors.append(f"{where}:axes.weights: missing (the weight format `cost` prices)")
    if "layers" in metrics and "cost" not in metrics:
        errors.append(f"{where}:metrics: `layers` breaks down `cost`: list both")
    design = design_axes(axes)
    if design and "accelerator" not in axes:
        errors.append(f"{where}:axes: {', '.join(design)}: unknown axis (not a named axis, and no `accelerator` "
                      f"axis whose override keys they could be)")


def _check_names(where: str, axes: dict[str, list[Any]], errors: list[str]) -> None:
    """Format, model, accelerator, workload and data names exist; override keys exist and their
    values pass the catalog's own checks."""
    from hwsim.catalog import format_names, get_format
    from hwsim.errors import FormatError

    known_formats = format_names()
    for axis in FORMAT_AXES:
        for i, name in enumerate(axes.get(axis, [])):
            if axis == "activations" and name in ("same", "fp32"):
                continue
            if axis == "kv_cache" and name in ("activations", "fp32"):
                continue
            try:
                get_format(name)
            except FormatError:
                errors.append(f"{where}:axes.{axis}[{i}]: unknown format {name!r}{_close(name, known_formats)}")
    _check_catalog_names(where, axes, errors)


def _check_catalog_names(where: str, axes: dict[str, list[Any]], errors: list[str]) -> None:
    import numpy as np

    from hwsim.arch import Dataflow, accelerator, accelerators, workloads
    from hwsim.study.names import DATA_NAMES, MODEL_NAMES

    checks = {"model": MODEL_NAMES, "workload": workloads(), "accelerator": accelerators(),
              "dataflow": [d.value for d in Dataflow], "accumulate": ["exact", "block_dot"],
              "eval_size": ["ci", "short", "full"]}
    for axis, known in checks.items():
        for i, name in enumerate(axes.get(axis, [])):
            if name not in known:
                errors.append(f"{where}:axes.{axis}[{i}]: unknown {axis} {name!r}{_close(name, list(known))}; "
                              f"known: {', '.join(known)}")
    for i, name in enumerate(axes.get("data", [])):
        if name not in DATA_NAMES and not str(name).endswith(".npy"):
            errors.append(f"{where}:axes.data[{i}]: unknown data {name!r}{_close(name, list(DATA_NAMES))}; "
                          f"known: {', '.join(DATA_NAMES)} or a .npy path")
    design = design_axes(axes)
    for name in axes.get("accelerator", []):
        if name not in checks["accelerator"]:
            continue
        for key in design:
            override: dict[str, Any] = {key: np.asarray(axes[key])}
            try:
                accelerator(name, **override)
            except HwsimError as exc:
                errors.append(f"{where}:axes.{key}: {exc}")
        if "dataflow" in axes:
            try:
                accelerator(name, dataflow=axes["dataflow"][0])
            except HwsimError as exc:
                errors.append(f"{where}:axes.dataflow: {exc}")

"""Training recipes: the format of every operand of a layer's three GEMMs, as catalog data.

A :class:`Recipe` is read from ``hwsim/train/recipes.toml`` (one table per recipe, each with a
``reference`` citing its source). It names, per GEMM role, the format of each operand:

- ``forward`` ``Y = X @ W^T``: ``x`` (activation) and ``w`` (weight), reduced over ``K``;
- ``dgrad`` ``dX = dY @ W``: ``dy`` (output gradient) and ``w``, reduced over ``N``;
- ``wgrad`` ``dW = X^T @ dY``: ``x`` and ``dy``, reduced over the tokens ``M``.

Each operand is quantized from its fp32 value along its own GEMM's reduction axis (the MX training
rule, Rouhani et al. arXiv 2310.10537 §4: the same tensor is blocked along different axes in forward
and backward). Options: the rounding of the gradient operands (stochastic rounding, seeded), a
random Hadamard transform on the wgrad operands, the fp32 tensor scale of amax-scaled formats, the
DFP integer datapath with or without overflow handling, whether attention matmuls are quantized,
and the master-weight format. Loading collects every error of the file into one
:class:`~hwsim.errors.CatalogError` (STYLE P8).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from hwsim.catalog import get_format
from hwsim.errors import CatalogError, HwsimError, unknown_name
from hwsim.numerics.format import Format
from hwsim.numerics.types import RoundMode, ScaleRule

__all__ = ["Recipe", "ROLES", "SLOTS", "GRADIENT_SLOTS", "recipe", "recipe_names", "load_recipes", "RECIPES_FILE"]

RECIPES_FILE = Path(__file__).resolve().parent / "recipes.toml"

#: the three GEMMs of a layer and their two operands, left then right as the GEMM reads them
ROLES: dict[str, tuple[str, str]] = {"forward": ("x", "w"), "dgrad": ("dy", "w"), "wgrad": ("x", "dy")}
#: every (role, operand) slot, in a fixed order (its index feeds the stochastic-rounding seed)
SLOTS: tuple[tuple[str, str], ...] = tuple((r, o) for r, ops in ROLES.items() for o in ops)
#: the slots that hold an output gradient (``gradient_rounding`` applies to them)
GRADIENT_SLOTS = frozenset(s for s in SLOTS if s[1] == "dy")

_KEYS = {"reference", "description", "forward", "dgrad", "wgrad", "gradient_rounding", "seed", "rht_block",
         "tensor_scale", "integer", "overflow_handling", "attention", "master"}
_IDENTITY = ("fp32", "none")


@dataclass(frozen=True)
class Recipe:
    """One training recipe: a format per (role, operand) slot plus the options above.

    ``formats[(role, operand)]`` is a :class:`~hwsim.numerics.format.Format` with the recipe's
    rounding and tensor scale applied, or ``None`` (fp32: the operand is not quantized).
    """

    name: str
    formats: dict[tuple[str, str], Format | None]
    reference: str = ""
    description: str = ""
    gradient_rounding: RoundMode = RoundMode.EVEN
    seed: int = 0
    rht_block: int = 0
    tensor_scale: bool = False
    integer: bool = False
    overflow_handling: bool = True
    attention: bool = True
    master: Format | None = None
    format_names: dict[tuple[str, str], str] = field(default_factory=dict)

    def format_of(self, role: str, operand: str) -> Format | None:
        return self.formats[(role, operand)]

    def name_of(self, role: str, operand: str) -> str:
        """The catalog name of a slot's format (``fp32`` when unquantized)."""
        return self.format_names.get((role, operand), "fp32")

    def replace(self, **changes: Any) -> Recipe:
        """A copy with options changed (``seed=``, ``overflow_handling=``...); formats are rebuilt
        from their names so ``gradient_rounding``/``tensor_scale`` changes reach them."""
        data = {"reference": self.reference, "description": self.description,
                "gradient_rounding": self.gradient_rounding.value, "seed": self.seed, "rht_block": self.rht_block,
                "tensor_scale": self.tensor_scale, "integer": self.integer,
                "overflow_handling": self.overflow_handling, "attention": self.attention,
                "master": "fp32" if self.master is None else self.master.name}
        for role, ops in ROLES.items():
            data[role] = {op: self.name_of(role, op) for op in ops}
        unknown = set(changes) - _KEYS - {"name"}
        if unknown:
            raise HwsimError(f"recipe {self.name!r}: unknown option(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
        name = changes.pop("name", self.name)
        data.update(changes)
        errors: list[str] = []
        out = _build(name, data, errors, "replace")
        if errors or out is None:
            raise HwsimError("; ".join(errors))
        return out


def _slot_format(name: str, role: str, op: str, data: dict[str, Any], where: str,
                 errors: list[str]) -> Format | None:
    if name.lower() in _IDENTITY:
        return None
    try:
        fmt = get_format(name)
    except HwsimError as exc:
        errors.append(f"{where}.{role}.{op}: {exc}")
        return None
    if not isinstance(fmt, Format):
        errors.append(f"{where}.{role}.{op}: {name!r} is a format family, not a core Format (element + scaling)")
        return None
    changes: dict[str, Any] = {}
    if (role, op) in GRADIENT_SLOTS and data.get("gradient_rounding", "even") != "even":
        changes["rounding"] = data["gradient_rounding"]
    if data.get("tensor_scale", False):
        if fmt.scale_rule is ScaleRule.AMAX:
            changes["tensor_scale"] = True
        else:
            errors.append(f"{where}.{role}.{op}: tensor_scale needs amax-scaled formats; {name!r} has "
                          f"scale_rule {fmt.scale_rule and fmt.scale_rule.value!r}")
    try:
        return fmt.replace(**changes) if changes else fmt
    except HwsimError as exc:
        errors.append(f"{where}.{role}.{op}: {exc}")
        return None


def _build(name: str, data: dict[str, Any], errors: list[str], where: str) -> Recipe | None:
    n0 = len(errors)
    unknown = set(data) - _KEYS
    if unknown:
        errors.append(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    if not str(data.get("reference", "")).strip():
        errors.append(f"{where}.reference: every recipe cites its source")
    rounding = data.get("gradient_rounding", "even")
    if rounding not in ("even", "stochastic"):
        errors.append(f"{where}.gradient_rounding: {rounding!r} not one of ['even', 'stochastic']")
    for key in ("tensor_scale", "integer", "overflow_handling", "attention"):
        if key in data and not isinstance(data[key], bool):
            errors.append(f"{where}.{key}: {data[key]!r} must be true or false")
    rht = data.get("rht_block", 0)
    if not isinstance(rht, int) or isinstance(rht, bool) or rht < 0 or (rht and rht & (rht - 1)):
        errors.append(f"{where}.rht_block: {rht!r} must be 0 (off) or a power of two (16, 32, ...)")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        errors.append(f"{where}.seed: {seed!r} must be an int >= 0")
    formats: dict[tuple[str, str], Format | None] = {}
    names: dict[tuple[str, str], str] = {}
    for role, ops in ROLES.items():
        table = data.get(role)
        if not isinstance(table, dict) or set(table) != set(ops):
            errors.append(f"{where}.{role}: needs exactly the operands {list(ops)}, got {table!r}")
            continue
        for op in ops:
            fname = table[op]
            if not isinstance(fname, str):
                errors.append(f"{where}.{role}.{op}: {fname!r} must be a format name")
                continue
            formats[(role, op)] = _slot_format(fname, role, op, data, where, errors)
            names[(role, op)] = fname
    integer = bool(data.get("integer", False))
    if integer:
        for slot, fmt in formats.items():
            if fmt is None or fmt.element.is_float or fmt.block_size != 0:
                errors.append(f"{where}.{slot[0]}.{slot[1]}: integer (DFP) recipes need DFP formats "
                              f"(integer element, block_size 0, pow2), got {names.get(slot)!r}")
    master_name = data.get("master", "fp32")
    master = None if master_name in _IDENTITY else _slot_format(master_name, "master", "weights", {}, where, errors)
    if len(errors) > n0:
        return None
    return Recipe(name=name, formats=formats, reference=str(data["reference"]),
                  description=str(data.get("description", "")), gradient_rounding=RoundMode(rounding),
                  seed=seed, rht_block=rht, tensor_scale=bool(data.get("tensor_scale", False)), integer=integer,
                  overflow_handling=bool(data.get("overflow_handling", True)),
                  attention=bool(data.get("attention", True)), master=master, format_names=names)


def load_recipes(path: str | Path = RECIPES_FILE) -> dict[str, Recipe]:
    """Every recipe of a TOML file.

    Raises:
        CatalogError: with every problem of the file (``file:recipe.key: message``).
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError([f"{path}: {exc}"]) from None
    errors: list[str] = []
    out: dict[str, Recipe] = {}
    for name, data in doc.items():
        if not isinstance(data, dict):
            errors.append(f"{path.name}:{name}: a recipe is a table")
            continue
        built = _build(name, data, errors, f"{path.name}:{name}")
        if built is not None:
            out[name] = built
    if errors:
        raise CatalogError(errors)
    return out


@lru_cache(maxsize=1)
def _catalog() -> dict[str, Recipe]:
    return load_recipes()


def recipe_names() -> list[str]:
    return list(_catalog())


def recipe(name: str | Recipe, **changes: Any) -> Recipe:
    """The catalog recipe ``name`` (options changed with ``changes``).

    Raises:
        HwsimError: unknown name (the message lists the catalog).
    """
    if isinstance(name, Recipe):
        return name.replace(**changes) if changes else name
    cat = _catalog()
    if name not in cat:
        raise HwsimError(unknown_name("recipe", name, cat))
    return cat[name].replace(**changes) if changes else cat[name]

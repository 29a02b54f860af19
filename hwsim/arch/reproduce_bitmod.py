"""Reproduce BitMoD's accelerator comparison (Chen et al., HPCA 2025, §V-C, Fig. 7) with hwsim.

BitMoD's speed-ups come from its official simulator (abdelfattah-lab/BitMoD-HPCA-25,
``bitmod_sim/``): five designs (FP16, ANT, OliVe, BitMoD lossless and lossy) on six LLMs, a
discriminative task (prefill of 256 tokens) and a generative one (that prefill plus 20 decode steps
on a 256-token context, as ``bitmod_sim/plot/speedup_plot.ipynb`` adds them). This module builds
the same runs from hwsim's parts: the catalog entries ``bitmod-hpca25``, ``ant-micro22-like``,
``olive-isca23-like`` and ``fp16-baseline-bitmod`` (and their ``-decode`` shapes), the workloads
of :func:`hwsim.arch.workload.from_hf_config` on the models' public configurations
(:data:`MODEL_CONFIGS`), and the weight widths of the simulator's test scripts (:func:`design_bits`).

Two versions of the simulator: ``"paper"`` (commit 58d7bdb, Nov 2024, whose output is the data
hard-coded in the notebook, :data:`PAPER_CYCLES`) and ``"head"`` (e445a5f, Jul 2025: per-KV-head
attention with the K/V cache at its own precision, new ANT/OliVe widths). Three modes
(:data:`MODES`): ``"official"`` (the catalog entries as they are: the simulator's tile count and
memory rules, which reproduce its cycles layer for layer), ``"physical"`` (the same arrays and
mapping run as output-stationary systolic arrays, fill, skew and drain included, with the official
memory rules) and ``"hwsim"`` (that schedule with hwsim's own memory model). docs/cost-models.md
explains the differences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hwsim.arch.accelerator import Accelerator
from hwsim.arch.bitserial import official_weight_passes
from hwsim.arch.config import accelerator
from hwsim.arch.energy import OperandBits
from hwsim.arch.units import BitSerialUnit, SystolicUnit
from hwsim.arch.workload import Layer, Workload, WorkloadError, from_hf_config

__all__ = ["MODEL_CONFIGS", "MODELS", "DESIGNS", "VERSIONS", "MODES", "TASKS", "PAPER_CYCLES", "PAPER_MEANS",
           "CONTEXT", "DECODE_STEPS", "RATIOS", "BitmodReproduction", "design_bits", "bitmod_workload",
           "design_accelerator", "layer_costs", "reproduce"]

#: The shape fields of each model's public ``config.json`` on the Hugging Face hub (the simulator's
#: ``llm_shape_profile.py`` reads the same configs and the ``nn.Linear`` shapes they imply):
#: huggingface.co/facebook/opt-1.3b, microsoft/phi-2, 01-ai/Yi-6B, meta-llama/Llama-2-7b-hf,
#: meta-llama/Llama-2-13b-hf, meta-llama/Meta-Llama-3-8B (``/blob/main/config.json``).
MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "opt-1.3b": {"_name_or_path": "facebook/opt-1.3b", "model_type": "opt", "hidden_size": 2048,
                 "num_attention_heads": 32, "num_hidden_layers": 24, "ffn_dim": 8192, "vocab_size": 50272,
                 "word_embed_proj_dim": 2048},
    "phi-2": {"_name_or_path": "microsoft/phi-2", "model_type": "phi", "hidden_size": 2560,
              "num_attention_heads": 32, "num_key_value_heads": 32, "num_hidden_layers": 32,
              "intermediate_size": 10240, "vocab_size": 51200},
    "yi-6b": {"_name_or_path": "01-ai/Yi-6B", "model_type": "llama", "hidden_size": 4096,
              "num_attention_heads": 32, "num_key_value_heads": 4, "num_hidden_layers": 32,
              "intermediate_size": 11008, "vocab_size": 64000},
    "llama-2-7b": {"_name_or_path": "meta-llama/Llama-2-7b-hf", "model_type": "llama", "hidden_size": 4096,
                   "num_attention_heads": 32, "num_key_value_heads": 32, "num_hidden_layers": 32,
                   "intermediate_size": 11008, "vocab_size": 32000},
    "llama-2-13b": {"_name_or_path": "meta-llama/Llama-2-13b-hf", "model_type": "llama", "hidden_size": 5120,
                    "num_attention_heads": 40, "num_key_value_heads": 40, "num_hidden_layers": 40,
                    "intermediate_size": 13824, "vocab_size": 32000},
    "llama-3-8b": {"_name_or_path": "meta-llama/Meta-Llama-3-8B", "model_type": "llama", "hidden_size": 4096,
                   "num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 32,
                   "intermediate_size": 14336, "vocab_size": 128256},
}
MODELS = tuple(MODEL_CONFIGS)  #: in the order of the simulator's ``model_list``
DESIGNS = ("fp16", "ant", "olive", "bitmod_con", "bitmod_agg")  #: the notebook's names
VERSIONS = ("paper", "head")
#: ``official``: the simulator's tile count and memory rules; ``physical``: the same arrays as
#: output-stationary systolic arrays (hwsim's schedule, fill/skew/drain counted) with the official
#: memory rules; ``hwsim``: that schedule with hwsim's own memory model (per-fold re-reads, a 128 KiB
#: output buffer, double buffering)
MODES = ("official", "physical", "hwsim")
TASKS = ("discriminative", "generative")
CONTEXT = 256  #: tokens of the prompt and of the decode context (``context_length`` / ``cxt_len``)
DECODE_STEPS = 20  #: ``num_token_generate`` of ``bitmod_sim/plot/speedup_plot.ipynb``
#: the ratios the table reports: (key, numerator design, denominator design), each ``cycles ratio``
RATIOS = (("bitmod_agg_vs_fp16", "fp16", "bitmod_agg"), ("bitmod_con_vs_fp16", "fp16", "bitmod_con"),
          ("ant_vs_fp16", "fp16", "ant"), ("olive_vs_fp16", "fp16", "olive"),
          ("bitmod_agg_vs_ant", "ant", "bitmod_agg"), ("bitmod_agg_vs_olive", "olive", "bitmod_agg"))

_ENTRY = {"fp16": "fp16-baseline-bitmod", "ant": "ant-micro22-like", "olive": "olive-isca23-like",
          "bitmod_con": "bitmod-hpca25", "bitmod_agg": "bitmod-hpca25"}

#: Total cycles per model (in :data:`MODELS` order) hard-coded in ``bitmod_sim/plot/speedup_plot.ipynb``
#: at commit 58d7bdb, the data of the paper's Fig. 7: ``"prefill"`` = the discriminative task,
#: ``"decode"`` = one decode step.
PAPER_CYCLES: dict[str, dict[str, tuple[int, ...]]] = {
    "prefill": {
        "fp16": (669255680, 1399816192, 2878668800, 3156574208, 6676111360, 3969089536),
        "ant": (440975360, 847773696, 1734868992, 1949564928, 4076584960, 2266234880),
        "olive": (403718144, 779268096, 1575157760, 1768062976, 3648512000, 2008645632),
        "bitmod_con": (336236544, 693780480, 1414209536, 1649680384, 3537397760, 1901133824),
        "bitmod_agg": (233070592, 515194880, 946937856, 1202921472, 2601461760, 1273233408),
    },
    "decode": {
        "fp16": (82153718, 165841248, 362970848, 413518608, 804330080, 469624976),
        "ant": (25779238, 51998112, 119342816, 129497936, 251907680, 132370576),
        "olive": (20018374, 41655712, 96691936, 97236816, 189155680, 105031744),
        "bitmod_con": (31220054, 62986912, 137681120, 156919888, 305157360, 178109840),
        "bitmod_agg": (15857750, 31959712, 69662944, 79493200, 154552560, 90099088),
    },
}

#: The paper's headline means (§V-C, Fig. 7), as the issue states them; :func:`reproduce` also
#: recomputes them from :data:`PAPER_CYCLES`.
PAPER_MEANS: dict[str, dict[str, float]] = {
    "discriminative": {"bitmod_agg_vs_fp16": 2.82, "bitmod_agg_vs_ant": 1.72, "bitmod_agg_vs_olive": 1.56},
    "generative": {"bitmod_agg_vs_fp16": 4.18, "bitmod_agg_vs_ant": 1.66, "bitmod_agg_vs_olive": 1.39},
}

# weight storage bits per element of the test scripts, per model in MODELS order
_ANT_DECODE_PAPER = (5, 5, 5.25, 5, 5, 4.5)  # test_ant.py @58d7bdb (prefill: 5.5 for every model)
_OLIVE_DECODE_PAPER = (3.875, 4, 4.25, 3.75, 3.75, 3.5)  # test_olive.py @58d7bdb (prefill: 4.5)
_ANT_HEAD = (5, 5, 5.25, 5, 4, 5)  # test_ant.py @e445a5f, both phases
_OLIVE_HEAD = (4, 4, 4, 4, 4, 4.5)  # test_olive.py @e445a5f, both phases


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise WorkloadError(f"{name} {value!r} not one of {list(allowed)}")


def design_bits(design: str, model: str, phase: str, version: str = "paper") -> tuple[float, float]:
    """(weight bits, K/V bits) per element of ``design`` in the official test scripts
    (``bitmod_sim/test_{baseline,ant,olive,bitmod}.py`` at the commit of ``version``).

    BitMoD: 4.0625 bits in prefill and 3.0625 in decode (lossy, ``bitmod_agg``), 6.0625 (lossless,
    ``bitmod_con``): 4/3/6-bit elements plus an 8-bit scale per 128-weight group. The paper version
    charges attention's K/V at the 16-bit activation width for every design; the head version
    stores BitMoD's K/V cache in INT8 and the baselines' in FP16.
    """
    _check("design", design, DESIGNS)
    _check("model", model, MODELS)
    _check("phase", phase, ("prefill", "decode"))
    _check("version", version, VERSIONS)
    i = MODELS.index(model)
    bits: float
    if design == "fp16":
        bits = 16
    elif design == "bitmod_con":
        bits = 6.0625
    elif design == "bitmod_agg":
        bits = 4.0625 if phase == "prefill" else 3.0625
    elif design == "ant":
        bits = (5.5 if phase == "prefill" else _ANT_DECODE_PAPER[i]) if version == "paper" else _ANT_HEAD[i]
    else:
        bits = (4.5 if phase == "prefill" else _OLIVE_DECODE_PAPER[i]) if version == "paper" else _OLIVE_HEAD[i]
    kv = 8 if version == "head" and design.startswith("bitmod") else 16
    return float(bits), float(kv)


def _operand(bits: float) -> OperandBits:
    """An integer-like operand stored at ``bits`` per element (scales amortized): the simulator
    knows widths only; the element width is ``floor(bits)``."""
    if bits == 16:
        return OperandBits(is_float=True, exp_bits=5, man_bits=10, element_bits=16, bits_per_element=16.0)
    element = math.floor(bits)
    return OperandBits(is_float=False, exp_bits=0, man_bits=element - 1, element_bits=element,
                       bits_per_element=float(bits))


_FP16 = _operand(16)


def _paper_attention(layer: Layer, cfg: Mapping[str, Any], phase: str) -> Layer:
    """Commit 58d7bdb's attention shapes (``bitmod_sim/pe_array.py: _init_model_profiler``): the
    scores as ``[heads x queries, hidden] x [hidden, keys]`` and the context as
    ``[queries, keys] x [keys, heads x queries]``, inputs charged one K/V row (``hidden x kv_heads /
    heads``) per token."""
    h, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    kv_row = h * int(cfg.get("num_key_value_heads", heads)) // heads
    q = CONTEXT if phase == "prefill" else 1
    if layer.name.endswith(".qk"):  # the queries are the "weight": n = queries (keys = queries in prefill)
        return Layer(layer.name, heads * q, h, q, 1, "attention", a_k=kv_row)
    return Layer(layer.name, q, CONTEXT, heads * q, 1, "attention", a_k=kv_row)


def bitmod_workload(model: str, phase: str, version: str = "paper") -> Workload:
    """The layers the official simulator prices for ``model`` in ``phase`` (``"prefill"``: 256
    tokens; ``"decode"``: one token on a 256-token context): every ``nn.Linear`` (``lm_head``
    included) from :func:`~hwsim.arch.workload.from_hf_config`, and the attention pair of each
    layer in the shapes of ``version`` (head: per K/V head, ``count`` = K/V heads)."""
    _check("model", model, MODELS)
    _check("phase", phase, ("prefill", "decode"))
    _check("version", version, VERSIONS)
    cfg = MODEL_CONFIGS[model]
    seq = CONTEXT if phase == "prefill" else 1
    wl = from_hf_config(cfg, seq=seq, kv_seq=CONTEXT, attention="per_kv_head", name=f"{model}-{phase}")
    if version == "head":
        return wl
    return Workload(wl.name, tuple(_paper_attention(x, cfg, phase) if x.kind == "attention" else x for x in wl))


def design_accelerator(design: str, model: str, phase: str, version: str = "paper",
                       mode: str = "official") -> Accelerator:
    """The catalog entry of ``design`` for ``phase`` (``-decode`` shapes in decode), set up for
    ``version`` and ``mode``.

    Paper version: a bit-serial PE spends the weights' cycles on attention too (58d7bdb computes
    ``pe_latency`` from the weight width only), so the cycles per weight are fixed from the weight
    width. ``physical`` and ``hwsim`` modes: the official mapping (tokens on one side, output
    channels on the other, input channels through time) is hwsim's output-stationary dataflow, whose
    rows hold tokens: the array is transposed to keep the simulator's folds, and hwsim's systolic
    schedule adds the fill, skew and drain of each fold. ``hwsim`` mode also swaps in hwsim's memory
    model, with a 128 KiB output buffer (as ``bitmod-like``; the official design has none).
    """
    _check("mode", mode, MODES)
    name = _ENTRY[design] + ("-decode" if phase == "decode" else "")
    overrides: dict[str, Any] = {}
    if version == "paper" and design.startswith("bitmod"):
        w_bits, _ = design_bits(design, model, phase, version)
        overrides["w_cycles_per_weight"] = int(official_weight_passes(w_bits))
    if mode != "official":
        unit = accelerator(name).unit
        if not isinstance(unit, SystolicUnit | BitSerialUnit):
            raise WorkloadError(f"{name}: the {mode!r} mode transposes a systolic or bit-serial array")
        overrides.update(schedule="systolic", dataflow="os", rows=unit.cols, cols=unit.rows)
    if mode == "hwsim":
        overrides.update(model="hwsim", ofmap_sram_kib=128)
    return accelerator(name, **overrides)


def layer_costs(model: str, phase: str, design: str, version: str = "paper", mode: str = "official") -> pd.DataFrame:
    """Per-layer costs (:meth:`hwsim.arch.Accelerator.run`) of one design on one model and phase."""
    acc = design_accelerator(design, model, phase, version, mode)
    w_bits, kv_bits = design_bits(design, model, phase, version)
    return acc.run(bitmod_workload(model, phase, version), _FP16, _operand(w_bits), kv_format=_operand(kv_bits))


def _means(cycles: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, float]]:
    """Arithmetic means over the models of each ratio (the notebook's ``np.mean`` of speed-ups)."""
    return {task: {key: float(np.mean([cycles[m][task][num] / cycles[m][task][den] for m in cycles]))
                   for key, num, den in RATIOS} for task in TASKS}


def _total(df: pd.DataFrame) -> int:
    """Total cycles of a workload run (exact: Python ints)."""
    return sum(int(x) for x in df["total_cycles"].to_numpy())


def _tasks(prefill: int, decode: int) -> dict[str, int]:
    return {"discriminative": prefill, "generative": prefill + DECODE_STEPS * decode}


@dataclass(frozen=True, slots=True)
class BitmodReproduction:
    """Total cycles and mean ratios of the five designs, with the paper's values beside them."""

    version: str
    mode: str
    #: ``cycles[model][task][design]``: total cycles (generative = prefill + 20 decode steps)
    cycles: dict[str, dict[str, dict[str, int]]]
    #: ``mean[task][ratio]``: arithmetic mean over the six models of each :data:`RATIOS` entry
    mean: dict[str, dict[str, float]]
    #: the same two tables from the notebook's hard-coded cycles (:data:`PAPER_CYCLES`)
    paper_cycles: dict[str, dict[str, dict[str, int]]]
    paper_mean: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        """``{"models": {model: {task: {design: cycles}}}, "mean": {task: {ratio: float}}}`` plus the
        version, the mode and the paper's values (``"paper": {"models": ..., "mean": ...}``)."""
        return {"version": self.version, "mode": self.mode, "models": self.cycles, "mean": self.mean,
                "paper": {"models": self.paper_cycles, "mean": self.paper_mean}}


def _paper_tables() -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, dict[str, float]]]:
    pc = PAPER_CYCLES
    cycles = {m: {task: {d: _tasks(pc["prefill"][d][i], pc["decode"][d][i])[task] for d in DESIGNS}
                  for task in TASKS} for i, m in enumerate(MODELS)}
    return cycles, _means(cycles)


def reproduce(version: str = "paper", mode: str = "official") -> BitmodReproduction:
    """Every design on every model, both tasks (60 workload runs, a few seconds)."""
    _check("version", version, VERSIONS)
    _check("mode", mode, MODES)
    cycles: dict[str, dict[str, dict[str, int]]] = {}
    for model in MODELS:
        per_design: dict[str, dict[str, int]] = {}
        for design in DESIGNS:
            phase_total = {phase: _total(layer_costs(model, phase, design, version, mode))
                           for phase in ("prefill", "decode")}
            per_design[design] = _tasks(phase_total["prefill"], phase_total["decode"])
        cycles[model] = {task: {d: per_design[d][task] for d in DESIGNS} for task in TASKS}
    paper_cycles, paper_mean = _paper_tables()
    return BitmodReproduction(version=version, mode=mode, cycles=cycles, mean=_means(cycles),
                              paper_cycles=paper_cycles, paper_mean=paper_mean)

"""Opt-in cross-check against the official BitMoD simulator (abdelfattah-lab/BitMoD-HPCA-25, ``bitmod_sim/``).

Run with a checkout of either commit the reproduction knows (58d7bdb, the paper's data; e445a5f, HEAD)::

    BITMOD_PATH=/path/to/BitMoD-HPCA-25 pytest tests/arch/test_vs_bitmod_sim.py

The official test scripts (``test_{baseline,ant,olive,bitmod}.py``, every flag combination) run
unmodified in a subprocess, with three stand-ins: the model shape files its ``llm_shape_profile.py``
would build from hub downloads are rebuilt from the public configs with transformers on the meta
device (no weights), the missing CACTI binary is replaced by a function returning the requested
SRAM size (cycles use nothing else), and ``torch`` is stubbed if absent (``accelerator.py``
imports ``torch.nn`` and never uses it). Every layer's compute cycles and ``max(compute, DRAM)``
must equal hwsim's official-schedule mode (:mod:`hwsim.arch.reproduce_bitmod`).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.arch.reproduce_bitmod import DESIGNS, MODEL_CONFIGS, MODELS, layer_costs

BITMOD = os.environ.get("BITMOD_PATH")
pytestmark = pytest.mark.skipif(not BITMOD, reason="set BITMOD_PATH to a checkout of abdelfattah-lab/BitMoD-HPCA-25")

_SHAPE_FILES = {"facebook/opt-1.3b": "opt_1_point_3", "microsoft/phi-2": "phi_2", "01-ai/Yi-6B": "yi_6",
                "meta-llama/Llama-2-7b-hf": "llama_2_7", "meta-llama/Llama-2-13b-hf": "llama_2_13",
                "meta-llama/Meta-Llama-3-8B": "llama_3_8"}

#: (design, phase, script, flags)
_RUNS = [("fp16", "prefill", "test_baseline.py", []), ("fp16", "decode", "test_baseline.py", ["--is_generation"]),
         ("ant", "prefill", "test_ant.py", []), ("ant", "decode", "test_ant.py", ["--is_generation"]),
         ("olive", "prefill", "test_olive.py", []), ("olive", "decode", "test_olive.py", ["--is_generation"]),
         ("bitmod_agg", "prefill", "test_bitmod.py", []),
         ("bitmod_agg", "decode", "test_bitmod.py", ["--is_generation"]),
         ("bitmod_con", "prefill", "test_bitmod.py", ["--is_lossless"]),
         ("bitmod_con", "decode", "test_bitmod.py", ["--is_generation", "--is_lossless"])]

_DRIVER = r'''
import contextlib, io, json, os, runpy, sys, types
sim, runs, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sim)
try:
    import torch.nn  # noqa: F401
except ImportError:  # accelerator.py imports torch.nn and never uses it
    torch = types.ModuleType("torch"); torch.nn = types.ModuleType("torch.nn")
    sys.modules["torch"], sys.modules["torch.nn"] = torch, torch.nn
import mem.cacti_simulation as cs

def _init(self, mem_config):
    self.mem_config = mem_config

def _run_cacti(self):  # CACTI stand-in: the requested size; energies and area are not checked
    return {**self.mem_config, "latency": 1.0, "area": 0.0, "r_cost": 0.0, "w_cost": 0.0}

cs.CactiSimulation.__init__, cs.CactiSimulation.run_cacti = _init, _run_cacti
import accelerator
records = {}
_calc = accelerator.Accelerator.calc_cycle

def calc_cycle(self):
    result = _calc(self)
    records[self.model_name] = {n: [int(self._layer_cycle_compute[n]), int(self._layer_cycle_dram[n])]
                                for n in self.layer_name_list}
    return result

accelerator.Accelerator.calc_cycle = calc_cycle
results = {}
for key, script, flags in runs:
    records.clear()
    sys.argv = [script, *flags]
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(os.path.join(sim, script), run_name="__main__")
    results[key] = dict(records)
with open(out, "w") as f:
    json.dump(results, f)
'''


def _shape_files(folder: Path) -> None:
    """``model_shape_config/<name>.pickle`` = (config dict, {Linear name: [out, in]}), as
    ``llm_shape_profile.py`` writes them, from the public configs (meta device: no weights)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    classes = {"opt": transformers.OPTConfig, "phi": transformers.PhiConfig, "llama": transformers.LlamaConfig}
    folder.mkdir()
    for cfg in MODEL_CONFIGS.values():
        config = classes[cfg["model_type"]](**{k: v for k, v in cfg.items() if not k.startswith("_")
                                               and k != "model_type"})
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
        linear = {n: list(m.weight.shape) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
        with open(folder / f"{_SHAPE_FILES[cfg['_name_or_path']]}.pickle", "wb") as f:
            pickle.dump((config.to_dict(), linear), f)


def _official_name(name: str) -> str:
    """hwsim's layer name -> the simulator's (its attention ops are ``model.layers.<i>.self_attn.attn_qk|attn_v``)."""
    if name.endswith((".qk", ".pv")):
        index = name.split("layers.")[1].split(".")[0]
        return f"model.layers.{index}.self_attn." + ("attn_qk" if name.endswith(".qk") else "attn_v")
    return name


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    assert BITMOD is not None
    sim = Path(BITMOD) / "bitmod_sim"
    if not sim.is_dir():
        sim = Path(BITMOD)
    version = "head" if "kv_prec" in (sim / "accelerator.py").read_text() else "paper"
    work = tmp_path_factory.mktemp("bitmod_sim")
    _shape_files(work / "model_shape_config")
    (work / "driver.py").write_text(_DRIVER)
    runs = [[f"{design}/{phase}", script, flags] for design, phase, script, flags in _RUNS]
    subprocess.run([sys.executable, str(work / "driver.py"), str(sim), json.dumps(runs), str(work / "out.json")],
                   cwd=work, check=True, timeout=1800)
    return version, json.loads((work / "out.json").read_text())


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_every_layer_matches(official: tuple[str, dict], design: str, phase: str) -> None:
    version, results = official
    by_model = results[f"{design}/{phase}"]
    for model in MODELS:
        theirs = by_model[MODEL_CONFIGS[model]["_name_or_path"]]
        ours = layer_costs(model, phase, design, version)
        names = [_official_name(n) for n in ours["layer"]]
        assert sorted(names) == sorted(theirs), (model, set(names) ^ set(theirs))
        compute = dict(zip(names, (int(x) for x in ours["compute_cycles"]), strict=True))
        total = dict(zip(names, (int(x) for x in ours["total_cycles"]), strict=True))
        bad = [n for n in names if compute[n] != theirs[n][0] or total[n] != max(theirs[n])]
        assert not bad, (version, model, design, phase, len(bad), len(names),
                         [(n, compute[n], total[n], theirs[n]) for n in bad[:3]])

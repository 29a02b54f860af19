"""BitMoD HPCA'25 reproduction: the official simulator's counting rules restated in hwsim (issue 16).

Expected values are derived by hand from the formulas of abdelfattah-lab/BitMoD-HPCA-25
``bitmod_sim/accelerator.py`` and ``pe_array.py`` (quoted in each test), or taken from the cycles the
official notebook ``bitmod_sim/plot/speedup_plot.ipynb`` hard-codes (58d7bdb), never from hwsim.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import hwsim
from hwsim import arch
from hwsim.arch._util import ShapeError
from hwsim.arch.bitserial import official_weight_passes, tile_count, weight_cycles
from hwsim.arch.energy import OperandBits
from hwsim.arch.memory import bus_dram_cycles, cheaper_operand_refetch, operand_bytes
from hwsim.arch.units import BitSerialUnit
from hwsim.arch.workload import Layer, WorkloadError, from_hf_config
from hwsim.errors import FormatError

FP16 = OperandBits(is_float=True, exp_bits=5, man_bits=10, element_bits=16, bits_per_element=16.0)


def _w(bits: float) -> OperandBits:
    """A weight stored at ``bits`` per element, element width floor(bits)."""
    e = int(bits)
    return OperandBits(is_float=False, exp_bits=0, man_bits=e - 1, element_bits=e, bits_per_element=bits)


# ---- item 7 -----------------------------------------------------------------------------------
def test_weight_cycles_takes_a_name() -> None:
    """A catalog name gives the same count as the format object (it raised FormatError: max_terms
    read ``.values`` of the string); INT8 is 4 radix-4 Booth digits."""
    assert weight_cycles("olive4") == weight_cycles(hwsim.format("olive4"))
    assert weight_cycles("int8") == 4
    with pytest.raises(FormatError, match="no_such_format"):
        weight_cycles("no_such_format")


# ---- item 1: tile schedule, lanes ---------------------------------------------------------------
def test_official_cycles_per_weight() -> None:
    """pe_array.py: ``pe_latency = ceil(floor(w_prec) / 2)``."""
    got = official_weight_passes([3.0625, 4.0625, 6.0625, 8, 16])
    assert got.tolist() == [2, 2, 3, 4, 8]


def test_tile_count_by_hand() -> None:
    """accelerator.py _calc_tile_fc: ceil(cin / dp) * ceil(cout / h) * ceil(tokens / w) (* batch).
    Llama-2-7B q_proj, 4096 -> 4096: prefill 256 tokens on 32x32, dp 4: 1024 * 128 * 8 = 1,048,576;
    decode (1 token) on 64x16: 1024 * 64 * 1 = 65,536; FP16 baseline 32x24, dp 1: 4096 * 128 * 11."""
    assert tile_count(32, 32, 256, 4096, 4096, lanes=4) == 1_048_576
    assert tile_count(64, 16, 1, 4096, 4096, lanes=4) == 65_536
    assert tile_count(32, 24, 256, 4096, 4096) == 4096 * 128 * 11
    assert tile_count(32, 32, 256, 128, 256, lanes=4, count=32) == 32 * 8 * 8 * 32


def test_tiles_schedule_on_the_units() -> None:
    """A bit-serial unit in the tiles schedule: tiles x cycles per weight (4-bit element: 2)."""
    unit = BitSerialUnit(rows=32, cols=32, dataflow=arch.Dataflow.WS, w_bits_per_cycle=2, lanes=4,
                         schedule="tiles")
    cost = unit.compute(256, 4096, 4096, FP16, _w(4.0625))
    assert cost.compute_cycles == 2 * 1_048_576
    assert cost.macs == 256 * 4096 * 4096
    assert cost.utilization == pytest.approx(256 * 4096 * 4096 / (2 * 1_048_576 * 32 * 32 * 4))
    base = arch.SystolicUnit(rows=32, cols=24, dataflow=arch.Dataflow.WS, schedule="tiles")
    assert base.compute(256, 4096, 4096, FP16, FP16).compute_cycles == 4096 * 128 * 11
    with pytest.raises(ShapeError, match="schedule"):
        arch.SystolicUnit(rows=2, cols=2, dataflow=arch.Dataflow.WS, schedule="nofill")


def test_lanes_shorten_the_reduction_of_the_systolic_schedule() -> None:
    """A 4-lane PE array runs the systolic schedule of k / 4 reduction steps (same cycles as a
    1-lane array on k / 4), but counts every MAC."""
    four = BitSerialUnit(rows=32, cols=32, dataflow=arch.Dataflow.WS, w_bits_per_cycle=2, lanes=4)
    one = BitSerialUnit(rows=32, cols=32, dataflow=arch.Dataflow.WS, w_bits_per_cycle=2)
    a = four.compute(64, 4096, 512, FP16, _w(4))
    b = one.compute(64, 1024, 512, FP16, _w(4))
    assert a.compute_cycles == b.compute_cycles
    assert a.macs == 64 * 4096 * 512
    assert four.mac_units == 4 * one.mac_units


# ---- item 2: memory rules ----------------------------------------------------------------------
def test_operand_bytes_by_hand() -> None:
    """_check_layer_mem_size: W = ceil(cin * w_prec / 8) * cout, inputs and outputs at 16 bits.
    q_proj at 4.0625 bits: ceil(4096 * 4.0625 / 8) = 2080 bytes per row."""
    w, a, o = operand_bytes(256, 4096, 4096, 16, 4.0625, 16)
    assert (int(w), int(a), int(o)) == (2080 * 4096, 4096 * 2 * 256, 4096 * 2 * 256)
    w, a, o = operand_bytes(8192, 4096, 256, 16, 16, 16, a_k=1024)  # 58d7bdb GQA attention input row
    assert int(a) == 1024 * 2 * 8192
    w, a, o = operand_bytes(256, 128, 256, 16, 8, 16, count=32)  # e445a5f: 32 KV heads as one operator
    assert (int(w), int(a), int(o)) == (128 * 256 * 32, 128 * 2 * 256 * 32, 256 * 2 * 256 * 32)


def test_cheaper_operand_refetch_by_hand() -> None:
    """_calc_num_mem_refetch with 512 KiB buffers. q_proj prefill: W = 8,519,680 B, A = 2,097,152 B,
    both too big; re-read W ceil(A / 512Ki) = 4 times: 4W + A = 36,175,872 < ceil(W / 512Ki) = 17
    times A + W = 44,171,264, so (4, 1). Fitting operands: (1, 1). A tie re-reads the input."""
    buf = 512 * 1024
    fw, fa = cheaper_operand_refetch([8_519_680, 6_422_528, 1000], [2_097_152, 8192, 1000], buf, buf)
    assert fw.tolist()[:2] == [4, 1] and fa.tolist()[:2] == [1, 1]
    fw, fa = cheaper_operand_refetch(1000, 1000, 400, 400)  # 3 * 1000 + 1000 == 3 * 1000 + 1000
    assert (int(fw), int(fa)) == (1, 3)


def test_bus_dram_cycles_truncate() -> None:
    """_calc_dram_cycle: int((W * fw + A * fa + O) * 8 / (128 * 2))."""
    assert int(bus_dram_cycles(8_519_680, 2_097_152, 2_097_152, 4, 1, 32)) == 38_273_024 // 32
    assert int(bus_dram_cycles(33, 0, 0, 1, 1, 32)) == 1


def test_bitmod_entry_gemm_by_hand() -> None:
    """The catalog's bitmod-hpca25 on q_proj: prefill compute 2,097,152 > DRAM 1,196,032 cycles;
    decode (64x16, 3.0625 bits) compute 65,536 x 2 = 131,072 < DRAM (1568 x 4096 + 8192 + 8192) / 32
    = 201,216, so decode is DRAM-bound, and 4.0625-bit weights cost (2080 x 4096 + 16384) / 32 =
    266,752 cycles: BitMoD-4 / BitMoD-3 = 1.33 in decode."""
    pre = arch.accelerator("bitmod-hpca25").gemm(256, 4096, 4096, FP16, _w(4.0625))
    assert (pre.cycles, pre.compute_cycles) == (2_097_152, 2_097_152)
    assert pre.dram_read_bytes == 4 * 8_519_680 + 2_097_152 and pre.dram_write_bytes == 2_097_152
    dec = arch.accelerator("bitmod-hpca25-decode")
    three, four = dec.gemm(1, 4096, 4096, FP16, _w(3.0625)), dec.gemm(1, 4096, 4096, FP16, _w(4.0625))
    assert (three.compute_cycles, three.cycles) == (131_072, 201_216)
    assert four.cycles == 266_752
    assert four.cycles / three.cycles == pytest.approx(1.3257, abs=1e-4)


def test_bitmod_batched_attention_by_hand() -> None:
    """e445a5f prefill QK^T of Llama-2-7B per KV head on bitmod-hpca25 with an INT8 KV cache (4
    cycles per element): 32 heads x (32 x 8 x 8 tiles x 4) = 262,144 compute cycles; K = 1 MiB,
    Q = 2 MiB, scores = 4 MiB; both inputs exceed 512 KiB: re-reading K 4 times (6 MiB) is not cheaper
    than Q twice (5 MiB), so DRAM = (1 + 2 x 2 + 4) MiB / 32 = 294,912 cycles."""
    acc = arch.accelerator("bitmod-hpca25")
    cost = acc.gemm(256, 128, 256, FP16, _w(8), batch=32)
    assert (cost.compute_cycles, cost.cycles) == (262_144, 294_912)
    df = acc.run([Layer("qk", 256, 128, 256, 32, "attention"), Layer("proj", 256, 4096, 4096, 1, "linear")],
                 FP16, _w(4.0625), kv_format=_w(8))
    assert df["total_cycles"].tolist() == [294_912, 2_097_152]


def test_memory_model_options_are_checked() -> None:
    """ofmap_sram_kib = 0 (no output buffer) only with the bitmod model; batch= only there too."""
    with pytest.raises(ShapeError, match="ofmap_sram_kib"):
        arch.accelerator("bitmod-hpca25", model="hwsim")
    assert arch.accelerator("bitmod-hpca25").memory.ofmap_sram_kib == 0
    with pytest.raises(ShapeError, match="bitmod"):
        arch.accelerator("mx-systolic-32").gemm(8, 8, 8, batch=2)
    with pytest.raises(arch.config.AcceleratorNotFound, match="model"):
        arch.accelerator("mx-systolic-32", model="dramsim")


def test_run_kv_format_prices_attention_with_its_own_format() -> None:
    """hwsim's default memory model: the attention rows' weight operand is the KV format (8-bit)
    while linear rows keep the 4-bit weights; without kv_format both use w_format."""
    acc = arch.accelerator("bitmod-like")
    layers = [Layer("qk", 64, 128, 64, 4, "attention"), Layer("proj", 64, 256, 256, 1, "linear")]
    int4, int8 = hwsim.format("int4"), hwsim.format("int8")
    split = acc.run(layers, w_format=int4, kv_format=int8)
    assert split.loc[0, "cycles"] == acc.gemm(64, 128, 64, w_format=int8).cycles
    assert split.loc[1, "cycles"] == acc.gemm(64, 256, 256, w_format=int4).cycles
    assert split.loc[0, "total_cycles"] == 4 * split.loc[0, "cycles"]
    same = acc.run(layers, w_format=int4)
    assert same.loc[0, "cycles"] == acc.gemm(64, 128, 64, w_format=int4).cycles


# ---- item 3: workloads -------------------------------------------------------------------------
LLAMA3 = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
          "num_hidden_layers": 1, "intermediate_size": 14336, "vocab_size": 128256}


def test_per_kv_head_attention_shapes() -> None:
    """Grouped-query attention per K/V head (e445a5f pe_array.py): 32 query heads over 8 K/V heads,
    head 128: Q K^T = [4 x seq, 128] x [128, kv_seq], 8 of them; decode: 4 rows against 256 keys."""
    pre = {x.name.split(".")[-1]: x for x in from_hf_config(LLAMA3, seq=256, attention="per_kv_head")}
    assert (pre["qk"].m, pre["qk"].k, pre["qk"].n, pre["qk"].count) == (1024, 128, 256, 8)
    assert (pre["pv"].m, pre["pv"].k, pre["pv"].n, pre["pv"].count) == (1024, 256, 128, 8)
    dec = {x.name.split(".")[-1]: x for x in from_hf_config(LLAMA3, seq=1, kv_seq=256, attention="per_kv_head")}
    assert (dec["qk"].m, dec["qk"].n, dec["q_proj"].m) == (4, 256, 1)
    per_head = {x.name.split(".")[-1]: x for x in from_hf_config(LLAMA3, seq=1, kv_seq=256)}
    assert (per_head["qk"].m, per_head["qk"].n, per_head["qk"].count) == (1, 256, 32)
    with pytest.raises(WorkloadError, match="attention"):
        from_hf_config(LLAMA3, attention="grouped")


def test_opt_and_phi_layers() -> None:
    """OPT-1.3B: 24 x (k, v, q, out, fc1, fc2 + QK^T, PV) + lm_head = 193 rows; Phi-2: 32 x 8 + 1."""
    from hwsim.arch.reproduce_bitmod import MODEL_CONFIGS

    opt = from_hf_config(MODEL_CONFIGS["opt-1.3b"], seq=256)
    assert len(opt) == 24 * 8 + 1
    assert {x.name: (x.k, x.n) for x in opt}["model.decoder.layers.3.fc1"] == (2048, 8192)
    assert opt.layers[-1].name == "lm_head" and (opt.layers[-1].k, opt.layers[-1].n) == (2048, 50272)
    phi = from_hf_config(MODEL_CONFIGS["phi-2"], seq=256)
    assert len(phi) == 32 * 8 + 1
    assert {x.name: (x.k, x.n) for x in phi}["model.layers.0.mlp.fc2"] == (10240, 2560)


# ---- items 4, 5: catalog and reproduction ------------------------------------------------------
def test_catalog_entries_restate_the_test_scripts() -> None:
    """pe_array_dim of test_bitmod/ant/olive/baseline.py, prefill then decode; pe_dp_size 4 for BitMoD."""
    shapes = {"bitmod-hpca25": (32, 32, 4), "bitmod-hpca25-decode": (64, 16, 4), "ant-micro22-like": (32, 32, 1),
              "ant-micro22-like-decode": (64, 16, 1), "olive-isca23-like": (36, 32, 1),
              "olive-isca23-like-decode": (72, 16, 1), "fp16-baseline-bitmod": (32, 24, 1),
              "fp16-baseline-bitmod-decode": (64, 12, 1)}
    for name, (rows, cols, lanes) in shapes.items():
        acc = arch.accelerator(name)
        assert (acc.unit.rows, acc.unit.cols, acc.unit.lanes) == (rows, cols, lanes), name
        assert acc.unit.schedule == "tiles" and acc.memory.model == "bitmod"
        assert (acc.memory.ifmap_sram_kib, acc.memory.filter_sram_kib, acc.memory.bus_bytes_per_cycle) == (512, 512, 32)
        assert "bitmod_sim/test_" in acc.reference
    assert isinstance(arch.accelerator("bitmod-hpca25").unit, arch.BitSerialUnit)


@pytest.fixture(scope="module")
def paper():
    from hwsim.arch.reproduce_bitmod import reproduce

    return reproduce("paper", "official")


def test_paper_version_equals_the_notebook(paper) -> None:
    """All 60 totals (6 models x 5 designs x prefill/decode) equal the cycles hard-coded in the
    official notebook, and the means are the paper's (within 3 %, here to the rounding)."""
    from hwsim.arch.reproduce_bitmod import DECODE_STEPS, DESIGNS, MODELS, PAPER_CYCLES, PAPER_MEANS, layer_costs

    for i, model in enumerate(MODELS):
        for design in DESIGNS:
            pre = PAPER_CYCLES["prefill"][design][i]
            assert paper.cycles[model]["discriminative"][design] == pre, (model, design)
            dec = int(layer_costs(model, "decode", design)["total_cycles"].sum())
            assert dec == PAPER_CYCLES["decode"][design][i], (model, design)
            assert paper.cycles[model]["generative"][design] == pre + DECODE_STEPS * dec
    for task, means in PAPER_MEANS.items():
        for key, value in means.items():
            assert paper.mean[task][key] == pytest.approx(value, abs=0.005), (task, key)


def test_json_shape(paper) -> None:
    doc = paper.as_json()
    assert set(doc["mean"]) == {"discriminative", "generative"}
    assert set(doc["mean"]["generative"]) == {"bitmod_agg_vs_fp16", "bitmod_con_vs_fp16", "ant_vs_fp16",
                                              "olive_vs_fp16", "bitmod_agg_vs_ant", "bitmod_agg_vs_olive"}
    assert set(doc["models"]["llama-2-7b"]["generative"]) == {"fp16", "ant", "olive", "bitmod_con", "bitmod_agg"}
    json.dumps(doc)


def test_physical_schedule_costs_more_than_the_tile_count() -> None:
    """Fill, skew and drain only add cycles; the official memory rules are the same, so each layer's
    physical total is at least its official total."""
    from hwsim.arch.reproduce_bitmod import layer_costs

    for design in ("bitmod_agg", "fp16"):
        off = layer_costs("opt-1.3b", "prefill", design, "head", "official")
        phy = layer_costs("opt-1.3b", "prefill", design, "head", "physical")
        assert np.all(phy["compute_cycles"].to_numpy() > off["compute_cycles"].to_numpy())
        assert np.all(phy["total_cycles"].to_numpy() >= off["total_cycles"].to_numpy())


def test_cli_reproduce(tmp_path, capsys) -> None:
    from hwsim.cli import main

    out = tmp_path / "bitmod.json"
    assert main(["reproduce", "bitmod", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1.72 (1.72)" in text and "4.18 (4.18)" in text
    doc = json.loads(out.read_text())
    assert doc["models"]["opt-1.3b"]["discriminative"]["fp16"] == 669255680
    assert main(["reproduce", "bitmod", "--version", "head", "--mode", "physical"]) == 0
    assert "/off" in capsys.readouterr().out

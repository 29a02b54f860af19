"""Every catalog entry, whatever its family, keeps the one Format contract (protocol.NumberFormat):
same shape out, decode(encode(x)) == quantize(x) bit for bit, torch in -> torch out, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.catalog import all_formats, load_formats
from hwsim.errors import CatalogError, FormatError
from hwsim.numerics.protocol import NumberFormat, OperandSpec, ScaleSpec
from hwsim.numerics.types import RoundMode
from tests.numerics.numerics_helpers import assert_same_f32, normal

ALL = all_formats()
X = np.random.default_rng(11).standard_normal((3, 40)).astype(np.float32) * 2


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_contract(fmt):
    assert isinstance(fmt, NumberFormat)
    assert fmt.bits_per_element > 0 and fmt.element_bits >= 1 and fmt.reference
    for axis in (-1, 0):
        q = fmt.quantize(X, axis=axis)
        assert q.shape == X.shape and q.dtype == np.float32
        enc = fmt.encode(X, axis=axis)
        assert enc.codes.shape == X.shape and enc.codes.dtype.kind == "u"
        d = fmt.decode(enc)
        assert np.array_equal(d.view(np.uint32), q.view(np.uint32)), f"{fmt.name} axis {axis}"
    with pytest.raises(FormatError, match="axis"):
        fmt.quantize(X, axis=2)
    with pytest.raises(FormatError, match="float"):
        fmt.quantize(np.ones((2, 4), np.int32))
    with pytest.raises(FormatError, match="unknown field"):
        fmt.replace(no_such_field=1)


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_torch_in_torch_out(fmt):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(X.copy())
    q = fmt.quantize(t, axis=-1)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float32 and q.device == t.device
    assert np.array_equal(q.numpy(), fmt.quantize(X, axis=-1))


def test_every_name_resolves_and_unknown_names_suggest():
    assert [f.name for f in ALL] == hwsim.formats()
    with pytest.raises(FormatError, match="bitmod4"):
        hwsim.format("bitmod5")


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_edge_shapes_round_trip(fmt):
    """0-d and empty inputs: same shape and array type out, decode(encode(x)) == quantize(x)."""
    for x, axis in ((np.array(1.5, np.float32), -1), (np.array(-3e-3, np.float32), -1),
                    (np.zeros((2, 0), np.float32), 0), (np.zeros((2, 0), np.float32), 1)):
        q = fmt.quantize(x, axis=axis)
        d = fmt.decode(fmt.encode(x, axis=axis))
        assert type(q) is np.ndarray and type(d) is np.ndarray
        assert q.shape == x.shape == d.shape
        assert np.array_equal(q.view(np.uint32), d.view(np.uint32)), (fmt.name, x.shape, axis)


# ------------------------------------------------------------------------------------------------
# operand: the one typed description the cost model and the CLI read
# ------------------------------------------------------------------------------------------------
TIE_WORDS = {"ties_up", "ties_down", "ties_to_zero", "ties_later"}


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_operand_agrees_with_the_format(fmt):
    op = fmt.operand
    assert isinstance(op, OperandSpec)
    assert op.element_bits == fmt.element_bits and op.bits_per_element == fmt.bits_per_element
    assert (op.is_float, op.exp_bits, op.man_bits) == (fmt.is_float_element, fmt.exp_bits, fmt.man_bits)
    assert all(r in {m.value for m in RoundMode} | TIE_WORDS for r in op.rounding.split("|")), op.rounding
    assert op.scale_rule == ("; ".join(s.rule for s in op.scales) or "none")
    assert bool(op.scales) == fmt.is_scaled
    for s in op.scales:
        assert isinstance(s, ScaleSpec) and s.rule and s.bits > 0
        assert (s.group_size is None) == (s.granularity in ("channel", "tensor"))
        assert s.granularity != "tensor" or s is op.scales[-1]  # innermost first: the tensor scale last
        if s.is_pow2:
            assert s.man_bits == 0
    # group scales amortized: exactly bits_per_element, except the side information listed here
    side = {"bitmod4": 2 / 128, "bitmod3": 2 / 128,  # 2-bit datatype selector per group (BitMoD §III-B)
            **{n: 1 / 128 for n in ("fp4_er", "fp4_ea", "fp3_er", "fp3_ea")},  # +-special value: 1 bit per group
            "int4_asym_g128": 4 / 128, "int3_asym_g128": 3 / 128,  # b-bit zero point per group
            **{f"int{b}_asym_g64": b / 64 for b in (2, 3, 4)},  # formats/lut.toml (T-MAC's group 64)
            "int4_asym_g128_fp16guard": 4 / 128}
    if fmt.name.startswith("ternary"):  # packed trits: 5 per byte (TQ1_0) or 4 per byte (TQ2_0)
        assert op.bits_per_element == {"ternary": 1.6, "ternary_tq2": 2.0}[fmt.name]
    else:
        amortized = sum(s.bits / s.group_size for s in op.scales if s.group_size)
        assert op.bits_per_element == pytest.approx(op.element_bits + amortized + side.get(fmt.name, 0.0), abs=1e-12)


@pytest.mark.parametrize("name,elem", [("mxfp4", (4, True, 2, 1)), ("mxfp6_e2m3", (6, True, 2, 3)),
                                       ("mxfp6_e3m2", (6, True, 3, 2)), ("mxfp8_e4m3", (8, True, 4, 3)),
                                       ("mxfp8_e5m2", (8, True, 5, 2)), ("mxint8", (8, False, 0, 7))])
def test_operand_mx(name, elem):
    """OCP MX v1.0 §5.2 Table 1: k = 32 elements share one E8M0 (8-bit power-of-two) scale;
    MXFP4 = 4 + 8 / 32 = 4.25 bits per element."""
    op = hwsim.format(name).operand
    assert (op.element_bits, op.is_float, op.exp_bits, op.man_bits) == elem
    (s,) = op.scales
    assert (s.granularity, s.group_size, s.bits, s.is_pow2, s.exp_bits, s.man_bits) == ("block", 32, 8, True, 8, 0)
    assert "OCP MX" in s.rule and op.bits_per_element == elem[0] + 0.25 and op.rounding == "even"


def test_operand_nvfp4():
    """NVFP4: E2M1 elements, one E4M3 scale per 16 elements (4.5 bits per element), plus an fp32
    per-tensor scale in the two-level recipe (NVIDIA, arXiv 2509.25149)."""
    op = hwsim.format("nvfp4").operand
    assert (op.element_bits, op.is_float, op.exp_bits, op.man_bits, op.bits_per_element) == (4, True, 2, 1, 4.5)
    assert [(s.granularity, s.group_size, s.bits, s.is_pow2, s.exp_bits, s.man_bits) for s in op.scales] == \
        [("block", 16, 8, False, 4, 3)]
    two = hwsim.format("nvfp4", tensor_scale=True).operand
    assert [(s.granularity, s.group_size, s.bits, s.is_pow2, s.exp_bits, s.man_bits) for s in two.scales] == \
        [("block", 16, 8, False, 4, 3), ("tensor", None, 32, False, 8, 23)]
    assert two.scale_rule.count(";") == 1


def test_operand_core_and_family_scales():
    """Granularity and width of the scales the papers define."""
    def scales(name):
        return [(s.granularity, s.group_size, s.bits, s.is_pow2) for s in hwsim.format(name).operand.scales]

    assert scales("fp8_e4m3") == [] and hwsim.format("fp8_e4m3").operand.scale_rule == "none"
    assert scales("msfp12") == [("block", 16, 8, True)]  # MSFP: 8-bit shared exponent per 16 (NeurIPS'20)
    assert scales("bfp12_b32") == [("block", 32, 8, True)]
    assert scales("int8_channel") == [("channel", None, 32, False)]  # fp32 absmax scale per channel
    assert scales("int8_tensor") == [("tensor", None, 32, False)]
    assert scales("olive4") == [("channel", None, 32, False)]  # OliVe: per-channel weights
    assert scales("olive4_tensor") == [("tensor", None, 32, False)]  # per-tensor activations
    assert scales("ternary") == [("tensor", None, 32, False)]  # BitNet b1.58: one absmean per tensor
    assert scales("shiftadd3") == [("group", 128, 24, True)]  # 3 power-of-two alphas, int8 exponents
    assert scales("llmfp4_e2m1") == [("channel", None, 32, False)]  # LLM-FP4: bias per output channel
    assert scales("bitmod4") == [("group", 128, 8, False), ("channel", None, 32, False)]  # BitMoD §III-C
    assert scales("int4_asym_g128") == [("group", 128, 16, False)]  # fp16 scale per 128 (quant_int_asym)
    llmfp = hwsim.format("llmfp4_e2m1").operand
    assert (llmfp.is_float, llmfp.exp_bits, llmfp.man_bits, llmfp.element_bits) == (True, 2, 1, 5)


def test_operand_rounding():
    assert hwsim.format("mxfp4", rounding="stochastic").operand.rounding == "stochastic"
    assert hwsim.format("fp8_e4m3", rounding="away").operand.rounding == "away"
    assert hwsim.format("olive4").operand.rounding == "ties_later"  # quant_kernel.cu: the later list entry
    assert hwsim.format("llmfp4_e2m1").operand.rounding == "even"  # torch.round
    assert hwsim.format("int4_asym_g128").operand.rounding == "even"


def test_scale_spec_checks_its_granularity():
    with pytest.raises(ValueError, match="granularity"):
        ScaleSpec("row", None, 8, True, 8, 0, "x")
    with pytest.raises(ValueError, match="group_size"):
        ScaleSpec("block", None, 8, True, 8, 0, "x")
    with pytest.raises(ValueError, match="group_size"):
        ScaleSpec("tensor", 16, 32, False, 8, 23, "x")


# ----------------------------------------------------------------------------------------------
# the low-bit families (ternary, shift, bcq, llmfp) and the UE5M3-scaled FP4 blocks
# ----------------------------------------------------------------------------------------------
LOWBIT = ["ternary", "ternary_tq2", "bitnet_a8", "denseshift3", "denseshift4", "shiftadd2", "shiftadd3",
          "shiftadd4", "llmfp4_e2m1", "llmfp4_e3m0", "mxfp4_ue5m3", "fp4_ue5m3_b16"]


@pytest.mark.parametrize("name", LOWBIT)
def test_lowbit_entries_follow_the_protocol(name):
    f = hwsim.format(name)
    assert isinstance(f, NumberFormat) and f.reference.strip()
    assert f == hwsim.format(name) and hash(f) == hash(hwsim.format(name))
    x = normal((3, 40), seed=1)
    q = f.quantize(x)
    assert q.dtype == np.float32 and q.shape == x.shape
    assert_same_f32(np.asarray(f.decode(f.encode(x))), q, f"{name} decode(encode) == quantize")
    assert f.max > 0 and np.asarray(f.values()).size >= 2
    if not isinstance(f, hwsim.Format):  # core formats encode NaN blocks (test_codec.py)
        with pytest.raises(FormatError, match="Inf/NaN"):
            f.quantize(np.float32([1.0, np.nan, 2.0]))


@pytest.mark.parametrize("name", LOWBIT)
def test_lowbit_torch_in_torch_out(name):
    torch = pytest.importorskip("torch")
    f = hwsim.format(name)
    x = normal((4, 48), seed=2)
    qt = f.quantize(torch.from_numpy(x))
    assert isinstance(qt, torch.Tensor) and qt.dtype == torch.float32
    assert_same_f32(qt.numpy(), np.asarray(f.quantize(x)), f"{name} torch == numpy")
    enc = f.encode(torch.from_numpy(x))
    assert isinstance(enc.codes, torch.Tensor)
    assert_same_f32(f.decode(enc).numpy(), qt.numpy(), f"{name} torch decode(encode)")


@pytest.mark.parametrize("name,bits", [("ternary", 1.6), ("ternary_tq2", 2.0), ("denseshift3", 3.0),
                                       ("denseshift4", 4.0), ("shiftadd2", 2 + 2 * 8 / 128),
                                       ("shiftadd3", 3 + 3 * 8 / 128), ("shiftadd4", 4.25),
                                       ("llmfp4_e2m1", 5.0), ("mxfp4_ue5m3", 4.25), ("fp4_ue5m3_b16", 4.5)])
def test_bits_per_element(name, bits):
    """Ternary: 8/5 (TQ1_0 bytes) or 2; BCQ q + 8q/g; LLM-FP 1 + E + M + 1 extension bit;
    UE5M3 blocks 4 + 8/32 and 4 + 8/16."""
    assert hwsim.format(name).bits_per_element == pytest.approx(bits, abs=0, rel=0)


def test_catalog_kind_errors(tmp_path):
    (tmp_path / "bad.toml").write_text(
        '[codebooks.t3]\nbits = 2\ntable = [0, 1, "nan", -1]\nreference = "x"\n'
        '[bad_pack]\nkind = "ternary"\ncodebook = "t3"\npacking = "trit6"\nreference = "x"\n'
        '[bad_bits]\nkind = "bcq"\nbits = 9\nscale_per = "group"\ngroup_size = 8\nreference = "x"\n'
        '[bad_fp]\nkind = "llmfp"\nexp_bits = 0\nman_bits = 1\nreference = "x"\n'
        '[bad_se]\nkind = "scaled"\nelement = "fp4_e2m1"\nblock_size = 4\nscale_rule = "amax"\n'
        'scale_element = { kind = "int", bits = 8 }\nreference = "x"\n')
    with pytest.raises(CatalogError) as info:
        load_formats([hwsim.catalog.format_dirs()[0], tmp_path])
    text = str(info.value)
    assert "bad_pack.packing: 'trit6' not one of" in text
    assert "bad_bits" in text and "bits=9" in text
    assert "bad_fp" in text and "exp_bits=0" in text
    assert "bad_se.scale_element.kind: 'int' not one of ['float']" in text




@pytest.mark.parametrize("name", [n for n in LOWBIT if n not in ("bitnet_a8", "mxfp4_ue5m3", "fp4_ue5m3_b16")])
def test_scalar_and_empty_inputs(name):
    f = hwsim.format(name)
    for x in (np.float32(0.7), np.zeros((3, 0), np.float32), np.zeros((0, 5), np.float32)):
        q = f.quantize(x)
        assert q.shape == np.shape(x)
        assert_same_f32(np.asarray(f.decode(f.encode(x)), np.float32).reshape(q.shape), q, name)

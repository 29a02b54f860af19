"""Issue 10, numerics items: decode never reads bits it was not given the means to read.

- item 1: an Encoded carries the fingerprint of the format that made it; decoding it with a format
  that reads bits differently (another format, or the same one with an element / block-size
  override) raises FormatError naming both; overrides that only change encoding do not.
- item 2: every family refuses an Encoded lacking the meta its decoder reads.
- item 3: tampered scales (dtype, range, non-finite) and codes wider than the element raise.
- item 12 (API part): zero rows on block formats give empty results.
- item 13 (API part): bad parameters and inputs raise one FormatError naming the argument.

Each test fails on the code before the fix (a silent result or a raw Python exception).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics import Encoded

X = np.random.default_rng(0).standard_normal((4, 256)).astype(np.float32)


def _replace(enc: Encoded, **changes) -> Encoded:
    return dataclasses.replace(enc, **changes)


# ------------------------------------------------------------------------------------------------
# item 1: which format made the Encoded
# ------------------------------------------------------------------------------------------------
OTHER_FORMAT = [("mxfp4", "mxfp6_e2m3"), ("fp4_e2m1", "fp8_e4m3"), ("fp8_e4m3", "fp8_e5m2"),
                ("fp8_e5m2", "fp8_e4m3"), ("fp8_e4m3", "fp4_e2m1"), ("bitmod4", "int4_g128"),
                ("ant4", "olive4"), ("int4_g128", "bitmod4"), ("nvfp4", "mxfp4"), ("int4_asym_g128", "int3_asym_g128")]


@pytest.mark.parametrize("made_by,reader", OTHER_FORMAT, ids=[f"{a}-by-{b}" for a, b in OTHER_FORMAT])
def test_decode_refuses_other_format(made_by, reader):
    enc = hwsim.format(made_by).encode(X)
    with pytest.raises(FormatError) as info:
        hwsim.format(reader).decode(enc)
    assert made_by in str(info.value) and reader in str(info.value)


@pytest.mark.parametrize("name,override", [("mxfp4", {"block_size": 16}), ("nvfp4", {"tensor_scale": True}),
                                           ("int8_g32", {"block_size": 64}), ("bitmod4", {"group_size": 64}),
                                           ("int4_asym_g128", {"bits": 3}), ("olive4", {"normals": ("int",)})])
def test_decode_refuses_override_that_reads_bits_differently(name, override):
    enc = hwsim.format(name).encode(X)
    with pytest.raises(FormatError, match=f"{name}.*other parameters"):
        hwsim.format(name, **override).decode(enc)


@pytest.mark.parametrize("name,override", [("mxfp4", {"rounding": "stochastic", "seed": 3}),
                                           ("fp8_e4m3", {"saturate": False}), ("nvfp4", {"rounding": "zero"}),
                                           ("bitmod4", {"search": (90, 101, 1)}),
                                           ("int4_asym_g128", {"clamp_scale": True}),
                                           ("olive4", {"search": (80, 200, 4)})])
def test_decode_accepts_override_that_only_changes_encoding(name, override):
    fmt = hwsim.format(name)
    enc = fmt.encode(X)
    np.testing.assert_array_equal(hwsim.format(name, **override).decode(enc), fmt.decode(enc))


def test_decode_refuses_other_format_torch():
    torch = pytest.importorskip("torch")
    from hwsim.numerics.torch_codec import torch_kernels

    enc = hwsim.format("mxfp4").encode(torch.from_numpy(X))
    with pytest.raises(FormatError, match="mxfp4"):
        hwsim.format("mxfp6_e2m3").decode(enc)
    with torch_kernels(), pytest.raises(FormatError, match="mxfp4"):
        hwsim.format("mxfp6_e2m3").decode(enc)


def test_decode_refuses_non_encoded_and_foreign_name():
    with pytest.raises(FormatError, match="Encoded"):
        hwsim.format("mxfp4").decode((np.zeros(4, np.uint8), np.zeros(1, np.uint8)))
    with pytest.raises(FormatError, match="Encoded"):
        hwsim.format("bitmod4").decode({"codes": np.zeros(4, np.uint8)})
    # an Encoded built by hand has no fingerprint: its format name is still checked
    with pytest.raises(FormatError, match="fp8_e5m2"):
        hwsim.format("fp8_e4m3").decode(Encoded(codes=np.zeros(4, np.uint8), format="fp8_e5m2"))
    # and one without a name is trusted as raw codes
    assert hwsim.format("fp8_e4m3").decode(Encoded(codes=np.zeros(4, np.uint8))).tolist() == [0.0] * 4


# ------------------------------------------------------------------------------------------------
# item 2: meta the decoder reads
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,key", [("bitmod4", "selector"), ("bitmod3", "selector"), ("ant4", "selector"),
                                      ("olive4", "selector"), ("int4_asym_g128", "zero_point"),
                                      ("llmfp4_e2m1", "bias")])
def test_decode_refuses_missing_meta(name, key):
    fmt = hwsim.format(name)
    enc = fmt.encode(X)
    for meta in ({}, {k: v for k, v in enc.meta.items() if k != key}):
        with pytest.raises(FormatError, match=key):
            fmt.decode(_replace(enc, meta=meta))


def test_decode_refuses_bad_selector():
    enc = hwsim.format("bitmod4").encode(X)
    for sel in (enc.meta["selector"].astype(np.float32) + 0.5, enc.meta["selector"].astype(np.int8) - 1):
        with pytest.raises(FormatError, match="selector"):
            hwsim.format("bitmod4").decode(_replace(enc, meta={**enc.meta, "selector": sel}))
    enc = hwsim.format("olive4").encode(X)
    with pytest.raises(FormatError, match="selector"):
        hwsim.format("olive4").decode(_replace(enc, meta={**enc.meta, "selector": np.zeros(3, np.uint8)}))


# ------------------------------------------------------------------------------------------------
# item 3: tampered scales and codes
# ------------------------------------------------------------------------------------------------
def test_decode_refuses_tampered_scales_mx():
    fmt = hwsim.format("mxfp4")
    enc = fmt.encode(X)
    shape = enc.scales.shape
    for bad in (np.full(shape, 300, np.uint16), np.full(shape, -1, np.int8), np.full(shape, 130.7),
                np.full(shape, 127, np.float32)):
        with pytest.raises(FormatError, match="scale"):
            fmt.decode(_replace(enc, scales=bad))
    # an integer dtype holding E8M0 bytes is fine
    np.testing.assert_array_equal(fmt.decode(_replace(enc, scales=enc.scales.astype(np.int64))), fmt.decode(enc))


def test_decode_refuses_tampered_scales_nvfp4_and_fp32_scales():
    fmt = hwsim.format("nvfp4")
    enc = fmt.encode(X)
    with pytest.raises(FormatError, match="scale -3"):
        fmt.decode(_replace(enc, scales=np.full(enc.scales.shape, -3, np.int64)))
    with pytest.raises(FormatError, match="scale 256"):
        fmt.decode(_replace(enc, scales=np.full(enc.scales.shape, 256, np.int64)))
    fmt = hwsim.format("int8_g32")
    enc = fmt.encode(X)
    for v in (-1.0, 0.0, np.inf):
        s = enc.scales.copy()
        s[0, 0] = v
        with pytest.raises(FormatError, match="fp32 scale"):
            fmt.decode(_replace(enc, scales=s))
    with pytest.raises(FormatError, match="float values"):
        fmt.decode(_replace(enc, scales=enc.scales.view(np.uint32)))


def test_decode_refuses_bad_tensor_scale():
    fmt = hwsim.format("nvfp4", tensor_scale=True)
    enc = fmt.encode(X)
    for ts in (None, np.float32(-1.0), np.float32(np.inf), np.zeros(3, np.float32)):
        with pytest.raises(FormatError, match="tensor_scale"):
            fmt.decode(_replace(enc, tensor_scale=ts))
    plain = hwsim.format("mxfp4")
    with pytest.raises(FormatError, match="tensor scale"):
        plain.decode(_replace(plain.encode(X), tensor_scale=np.float32(2.0)))


def test_decode_refuses_codes_wider_than_element():
    with pytest.raises(FormatError, match="does not fit in 32 bits"):
        hwsim.format("fp32").decode(Encoded(codes=np.array([2**40 + 5], np.uint64), format="fp32"))
    with pytest.raises(FormatError, match="does not fit in 4 bits"):
        enc = hwsim.format("mxfp4").encode(X)
        hwsim.format("mxfp4").decode(_replace(enc, codes=enc.codes + 16))


def test_decode_torch_refuses_tampered_scales():
    torch = pytest.importorskip("torch")
    from hwsim.numerics.torch_codec import torch_kernels

    fmt = hwsim.format("mxfp4")
    enc = fmt.encode(torch.from_numpy(X))
    for bad in (torch.full(enc.scales.shape, 300, dtype=torch.int32), torch.full(enc.scales.shape, 1.5)):
        with pytest.raises(FormatError, match="scale"):
            fmt.decode(_replace(enc, scales=bad))
        with torch_kernels(), pytest.raises(FormatError, match="scale"):
            fmt.decode(_replace(enc, scales=bad))


def test_family_decode_refuses_non_finite_scales():
    fmt = hwsim.format("fp4_g128")
    enc = fmt.encode(X)
    for v in (np.nan, -1.0):
        s = np.array(enc.scales, np.float32)
        s.flat[0] = v
        with pytest.raises(FormatError, match="scales"):
            fmt.decode(_replace(enc, scales=s))
    fmt = hwsim.format("int4_asym_g128")
    enc = fmt.encode(X)
    with pytest.raises(FormatError, match="zero_point"):
        fmt.decode(_replace(enc, meta={"zero_point": enc.meta["zero_point"].astype(np.float32)}))


# ------------------------------------------------------------------------------------------------
# item 12: empty inputs
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mxfp4", "nvfp4", "mxfp8_e4m3", "int8_g32", "msfp12", "int4_g128", "bitmod4",
                                  "fp8_e4m3"])
@pytest.mark.parametrize("shape", [(0, 64), (0, 64, 3), (3, 0)])
def test_empty_rows_give_empty_results(name, shape):
    fmt = hwsim.format(name)
    x = np.zeros(shape, np.float32)
    enc = fmt.encode(x)
    assert enc.codes.shape == shape
    assert fmt.decode(enc).shape == shape
    assert fmt.quantize(x).shape == shape


def test_empty_rows_torch():
    torch = pytest.importorskip("torch")
    from hwsim.numerics.torch_codec import torch_kernels

    for name in ("mxfp4", "nvfp4", "int8_g32"):
        fmt = hwsim.format(name)
        x = torch.zeros((0, 64))
        assert tuple(fmt.quantize(x).shape) == (0, 64)
        with torch_kernels():
            assert tuple(fmt.quantize(x).shape) == (0, 64)
            assert tuple(fmt.decode(fmt.encode(x)).shape) == (0, 64)


# ------------------------------------------------------------------------------------------------
# item 13: bad parameters and inputs
# ------------------------------------------------------------------------------------------------
BAD_BUILDS = [
    ("block_size=2**63", lambda: hwsim.format("mxfp4", block_size=2**63), "block_size"),
    ("block_size=1.5", lambda: hwsim.format("mxfp4", block_size=1.5), "block_size"),
    ("block_size='32'", lambda: hwsim.format("mxfp4", block_size="32"), "block_size"),
    ("block_size=True", lambda: hwsim.format("mxfp4", block_size=True), "block_size"),
    ("block_size=-1", lambda: hwsim.format("int8_g32", block_size=-1), "block_size"),
    ("exp_bits='4'", lambda: hwsim.format("fp", exp_bits="4", man_bits=3), "exp_bits"),
    ("exp_bits=4.0", lambda: hwsim.format("fp", exp_bits=4.0, man_bits=3), "exp_bits"),
    ("bits=8.0", lambda: hwsim.format("int", bits=8.0), "bits"),
    ("saturate='false'", lambda: hwsim.format("fp8_e4m3", saturate="false"), "saturate"),
    ("tensor_scale='yes'", lambda: hwsim.format("nvfp4", tensor_scale="yes"), "tensor_scale"),
    ("block element=bitmod4", lambda: hwsim.format("block", element="bitmod4", block_size=32), "bitmod4"),
    ("clamp_scale=1", lambda: hwsim.format("int4_asym_g128", clamp_scale=1), "clamp_scale"),
]


@pytest.mark.parametrize("label,build,word", BAD_BUILDS, ids=[b[0] for b in BAD_BUILDS])
def test_bad_parameters_raise_format_error(label, build, word):
    with pytest.raises(FormatError, match=word):
        build()


@pytest.mark.parametrize("name", ["mxfp4", "fp8_e4m3", "ant4", "int4_asym_g128", "olive4"])
def test_ragged_input_raises_format_error(name):
    with pytest.raises(FormatError, match="rectangular"):
        hwsim.format(name).encode([[1.0, 2.0], [3.0]])


def test_olive_decoding_ant_encoding_raises_format_error():
    enc = hwsim.format("ant4").encode(X)
    with pytest.raises(FormatError, match="ant4"):
        hwsim.format("olive4").decode(enc)
    # even by hand, without the fingerprint: the per-group selector is refused, not a TypeError
    with pytest.raises(FormatError, match="selector"):
        hwsim.format("olive4").decode(_replace(enc, fingerprint="", format="",
                                               meta={"selector": np.zeros((4, 1), np.uint8)}))

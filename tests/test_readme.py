"""The README's Python examples run as written (a user's first five minutes must not fail)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["fmt"].bits_per_element == 4.25
    assert namespace["enc"].codes.shape == (4, 64) and namespace["enc"].scales.shape == (4, 2)


def test_readme_outlier_example_says_what_it_shows() -> None:
    """The OliVe/BitMoD comments in the README's tour are true."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    ns: dict = {}
    for block in blocks[:2]:
        exec(compile(block, str(README), "exec"), ns)  # noqa: S102 - our own README
    olive_enc = ns["olive"].encode(ns["w"])
    assert bool(olive_enc.meta["outlier_mask"][0, 10]) and int(olive_enc.codes[0, 11]) == 0b1000
    assert olive_enc.meta["packed"].shape == (8, 128)
    assert ns["bitmod"].encode(ns["w"]).meta["selector"].shape == (8, 2)
    assert round(ns["bitmod"].bits_per_element, 3) == 4.078


def test_readme_toml_examples_load_into_the_catalog(tmp_path) -> None:
    """Every TOML block of 'Adding your own format' is a valid catalog file next to the built-in one."""
    import numpy as np

    from hwsim.catalog import format_dirs, load_formats

    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        (tmp_path / f"readme_{i}.toml").write_text(block)
    catalog = load_formats([format_dirs()[0], tmp_path])
    nf4 = catalog["my_nf4_g64"]
    x = np.random.default_rng(0).standard_normal((2, 128)).astype(np.float32)
    assert nf4.bits_per_element == 4 + 16 / 64
    assert np.array_equal(nf4.decode(nf4.encode(x)), nf4.quantize(x))
    assert catalog["mxfp6_e3m2_b16"].block_size == 16

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

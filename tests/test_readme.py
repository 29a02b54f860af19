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

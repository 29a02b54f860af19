"""K-sort: reorder the head-dim channels of Q and K so that K's outlier channels share BFP blocks.

Trukhanov & Soloveychik (d-Matrix), "Accurate Block Quantization in LLMs with Outliers", arXiv
2403.20137 (abstract): keys are stored in a block floating point K cache (BFP12, blocks of
n = 32 / 64 / 128 along the head dim, ``formats/bfp_kv.toml``); a few channels of K carry most of
its magnitude, and a block holding one of them loses the small channels to the shared exponent.
K-sort sorts the rows (output channels) of W_k by their L2 norm, so the large channels gather in
the same blocks, and permutes the rows of W_q identically, at compile time: the attention scores
``q . k = sum_c q_c k_c`` are a sum over channels, unchanged by any permutation applied to both.

Per head, per group: the permutation is computed per KV head (heads never mix: each q . k is
within one head) from the rows of W_k of that head, and applied to that K head and to every query
head that reads it (GQA: query head ``h`` reads KV head ``h // (n_heads / n_kv_heads)``, as HF's
``repeat_kv``). Ties keep the original order (stable sort). Biases are permuted with their rows and
do not enter the norm (the paper sorts W_k's rows).

RoPE (Llama) - decisions, with reasons:

1. **Rotation pairs stay together.** HF's ``rotate_half`` rotates channel ``i`` with ``i + d/2``
   at frequency ``theta_i``. Only the pair's combined norm survives the rotation (the two channels
   trade magnitude with position), so pairs are sorted by ``sqrt(|w_i|^2 + |w_(i+d/2)|^2)``.
2. **The permutation cannot be folded into W_q/W_k alone.** A pair moved to position ``j`` is
   rotated at ``theta_j`` instead of its own ``theta_i``, which changes ``q . k`` (a tiny random
   Llama's logits move by ~4e-3; ``tests/bridge/test_ksort.py`` shows it). In hardware the fold is
   exact when the RoPE unit's per-channel frequency table is permuted with the rows (compile time,
   per head); HF's ``LlamaAttention`` takes one cos/sin table for all heads of a layer, so per-head
   tables cannot be expressed by editing the model. The equivalent computation is to permute the
   channels of q and k *after* the rotation: ``RoPE_(theta[p])(W[p] x) = RoPE_theta(W x)[p]``
   channel for channel (the folded RoPE unit pairing channels where the layout below puts each
   pair), so the K cache holds exactly what the folded hardware stores (tested against that
   hardware computation written out for both layouts). For RoPE
   attention :func:`ksort_` therefore changes no weight and returns the permutation with
   ``folded=False``; :func:`permute_qk` applies it to the rotated q and k.
3. **Layout ``interleaved`` (default): pair ``j`` of the sorted order occupies channels ``2j, 2j+1``**
   (Meta's original Llama RoPE pairs adjacent channels; HF's half-split checkpoints are a row
   permutation of it). A block of any even size then holds whole pairs, largest first, so blocks
   of 32 and 64 on a 128-channel head both separate the outlier pairs; with 128 (a whole head)
   there is nothing to reorder - the paper's reported pattern (gains at n = 32, 64; none at 128).
   ``layout="halves"`` keeps HF's half-split positions (pair ``j`` at ``j`` and ``j + d/2``, the same
   permutation on both halves); a block of ``d/2`` then holds one member of every pair and gains
   nothing.

What the datapath calls (``simulate(..., ksort=True)``; :mod:`hwsim.bridge.datapath` is not edited
here)::

    from hwsim.bridge.ksort import ksort_permutations, permute_qk
    self._ksort = ksort_permutations(model)        # once: {attention module name: KSort}
    # in Simulation._sdpa, before quantizing q and k (q, k already rotated, either head count):
    ks = self._ksort.get(name)
    if ks is not None:
        q, k = permute_qk(q, k, ks)

This needs no weight change, so it is exact for BERT and Llama alike and leaves the caller's model
(whose parameters the simulation shares) untouched; the eager attention path (``q @ k^T`` through
``_matmul``) would need the same two lines there. :func:`ksort_` is the compile-time fold for
attention without RoPE (it edits weights in place: call it on a copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from hwsim.errors import HwsimError

__all__ = ["KSort", "channel_permutation", "ksort_permutations", "ksort_", "fold_rows", "permute_qk", "LAYOUTS"]

LAYOUTS = ("interleaved", "halves")


@dataclass(frozen=True, eq=False)
class KSort:
    """The K-sort permutation of one attention module.

    ``perm[g, j]`` is the original channel that sorted channel ``j`` of KV head ``g`` holds (int64,
    ``(n_kv_heads, head_dim)``); query head ``h`` uses ``perm[h // (n_heads // n_kv_heads)]``.
    ``folded``: True when :func:`ksort_` applied it to W_q / W_k (attention without RoPE); False
    when it must be applied to the rotated q and k with :func:`permute_qk`.
    """

    name: str
    perm: torch.Tensor
    n_heads: int
    n_kv_heads: int
    rope: bool
    layout: str
    folded: bool = False

    @property
    def head_dim(self) -> int:
        return int(self.perm.shape[1])


def channel_permutation(w_k: torch.Tensor, head_dim: int, *, rope: bool = False,
                        layout: str = "interleaved") -> torch.Tensor:
    """Per-KV-head channel permutation sorting the rows of ``w_k`` (``[n_kv * head_dim, in]``) by
    non-increasing L2 norm; with ``rope``, the rotation pairs ``(i, i + d/2)`` by their combined norm,
    placed as ``layout`` says (module docstring). Returns int64 ``(n_kv_heads, head_dim)``."""
    if layout not in LAYOUTS:
        raise HwsimError(f"ksort layout {layout!r} not one of {list(LAYOUTS)}")
    rows, d = w_k.shape[0], int(head_dim)
    if d < 1 or rows % d:
        raise HwsimError(f"ksort: W_k has {rows} rows, not a multiple of head_dim={d}")
    norms = w_k.detach().to(torch.float64).pow(2).sum(dim=-1).view(rows // d, d)  # squared norms
    if not rope:
        return torch.sort(norms, dim=1, descending=True, stable=True).indices
    if d % 2:
        raise HwsimError(f"ksort: RoPE pairs channels i and i + d/2; head_dim={d} is odd")
    half = d // 2
    pair = norms[:, :half] + norms[:, half:]
    sigma = torch.sort(pair, dim=1, descending=True, stable=True).indices  # (n_kv, d/2)
    if layout == "halves":
        return torch.cat([sigma, sigma + half], dim=1)
    return torch.stack([sigma, sigma + half], dim=2).reshape(rows // d, d)


# ------------------------------------------------------------------------------------------------
# finding attention modules (HF LlamaAttention-like: q_proj/k_proj; BertSelfAttention: query/key)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Attn:
    q: nn.Linear
    k: nn.Linear
    head_dim: int
    rope: bool


def _attention(mod: nn.Module) -> _Attn | None:
    q, k = getattr(mod, "q_proj", None), getattr(mod, "k_proj", None)
    if isinstance(q, nn.Linear) and isinstance(k, nn.Linear):  # Llama, Mistral, Qwen2, SmolLM2
        cfg = getattr(mod, "config", None)
        d = getattr(mod, "head_dim", None) or getattr(cfg, "head_dim", None)
        if d is None and cfg is not None:
            d = cfg.hidden_size // cfg.num_attention_heads
        if d is None:
            raise HwsimError(f"ksort: {type(mod).__name__} has q_proj/k_proj but no head_dim")
        return _Attn(q, k, int(d), rope=True)
    q, k = getattr(mod, "query", None), getattr(mod, "key", None)
    d = getattr(mod, "attention_head_size", None)
    if isinstance(q, nn.Linear) and isinstance(k, nn.Linear) and d is not None:  # BERT
        return _Attn(q, k, int(d), rope=False)
    return None


def ksort_permutations(model: nn.Module, *, rope: bool | None = None,
                       layout: str = "interleaved") -> dict[str, KSort]:
    """The K-sort permutation of every attention module of ``model``, by module name (no change
    to the model). ``rope=None``: RoPE for q_proj/k_proj modules (Llama family), none for BERT's
    query/key; ``True``/``False`` forces it.

    Raises:
        HwsimError: W_q / W_k rows not a multiple of the head dim, or heads not a multiple of the
            KV heads.
    """
    found: dict[str, KSort] = {}
    for name, mod in model.named_modules():
        att = _attention(mod)
        if att is None:
            continue
        d = att.head_dim
        nq, nk = att.q.weight.shape[0], att.k.weight.shape[0]
        if nq % d or nk % d or (nq // d) % (nk // d):
            raise HwsimError(f"ksort: {name}: W_q has {nq} rows and W_k {nk}; with head_dim={d} the "
                             f"query heads must be a multiple of the KV heads")
        use_rope = att.rope if rope is None else bool(rope)
        perm = channel_permutation(att.k.weight, d, rope=use_rope, layout=layout)
        found[name] = KSort(name, perm, nq // d, nk // d, use_rope, layout if use_rope else "channels")
    return found


def fold_rows(lin: nn.Linear, perm: torch.Tensor, heads: int) -> None:
    """Rows of ``lin`` (``heads`` heads of ``perm.shape[1]`` rows) permuted in place per head: the
    weight fold :func:`ksort_` applies to W_q and W_k of attention without RoPE."""
    n_kv, d = perm.shape
    idx = perm.to(lin.weight.device).repeat_interleave(heads // n_kv, dim=0)  # (heads, d)
    idx = (idx + torch.arange(heads, device=idx.device)[:, None] * d).reshape(-1)
    with torch.no_grad():
        lin.weight.copy_(lin.weight[idx])
        if lin.bias is not None:
            lin.bias.copy_(lin.bias[idx])


def ksort_(model: nn.Module, *, layout: str = "interleaved") -> dict[str, KSort]:
    """K-sort ``model`` in place (call it on a copy): for attention without RoPE (BERT) the rows of
    W_q and W_k (and their biases) are permuted per head, which leaves every attention score and
    the model's outputs unchanged; for RoPE attention (Llama) no weight changes and the returned
    permutation has ``folded=False``: apply it with :func:`permute_qk` after the rotation (module
    docstring, decision 2). Returns every module's :class:`KSort`."""
    out: dict[str, KSort] = {}
    modules = dict(model.named_modules())
    for name, ks in ksort_permutations(model, layout=layout).items():
        if ks.rope:
            out[name] = ks
            continue
        att = _attention(modules[name])
        assert att is not None
        fold_rows(att.q, ks.perm, ks.n_heads)
        fold_rows(att.k, ks.perm, ks.n_kv_heads)
        out[name] = KSort(name, ks.perm, ks.n_heads, ks.n_kv_heads, ks.rope, ks.layout, folded=True)
    return out


def _gather_heads(x: torch.Tensor, perm: torch.Tensor, what: str) -> torch.Tensor:
    n_kv, d = perm.shape
    if x.dim() < 3 or x.shape[-1] != d or x.shape[-3] % n_kv:
        raise HwsimError(f"ksort: {what} of shape {tuple(x.shape)} is not (..., heads, tokens, {d}) "
                         f"with heads a multiple of {n_kv} KV heads")
    heads = x.shape[-3]
    idx = perm.to(x.device).repeat_interleave(heads // n_kv, dim=0)[:, None, :]  # (heads, 1, d)
    return torch.gather(x, -1, idx.expand(x.shape))


def permute_qk(q: torch.Tensor, k: torch.Tensor, ks: KSort | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``q`` and ``k`` (``(..., heads, tokens, head_dim)``, after RoPE; K with either its own KV
    head count or repeated to the query heads) with their channels in K-sorted order. ``q @ k^T`` is
    unchanged; K's blocks along the head dim now group its large channels."""
    if isinstance(ks, KSort):
        if ks.folded:
            raise HwsimError(f"ksort: {ks.name} is already folded into W_q/W_k (its q and k come out "
                             f"sorted); permuting them again would reorder the sorted channels")
        perm = ks.perm
    else:
        perm = ks
    return _gather_heads(q, perm, "q"), _gather_heads(k, perm, "k")

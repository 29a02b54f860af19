"""Fused multiply-add inside numba kernels: ``fma(a, b, c) = a * b + c`` rounded once (LLVM's
``llvm.fma.f64``: the FMA instruction where the CPU has one, else libm's correctly rounded ``fma``).

Python 3.11's ``math`` has no ``fma`` and numba offers none. Used where a kernel needs the sign of
``a * b + c`` exactly: a correctly rounded result is zero only when the exact one is, and otherwise
has its sign (IEEE 754-2019 §5.4.1, §4.3), as long as a nonzero exact result is not so small
that it underflows to zero (the callers' operands keep it above float64's normal minimum).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["fma"]


def _fma(typingctx, a, b, c):  # noqa: ARG001 - numba intrinsic signature
    """``a * b + c`` with one rounding (float64)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        f64 = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f64], ir.FunctionType(f64, [f64, f64, f64]))
        return builder.call(fn, args)

    return sig, codegen


#: ``fma(a, b, c)``: float64 ``a * b + c`` rounded once (call from numba kernels)
fma = cast(Callable[[Any, Any, Any], Any], intrinsic(_fma))

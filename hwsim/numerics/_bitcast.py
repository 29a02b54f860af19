"""Bit casts between int32 and float32 inside numba kernels (LLVM ``bitcast``, free at run time).

numba has no scalar ``view``; these intrinsics let the hot loops assemble float32 results from
integer fields without a table gather, which keeps the loops vectorizable. Each is exported as a
one-argument callable (how kernels call it); the typing-context argument is numba's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: how a kernel calls an intrinsic: one value in, its bits reinterpreted out (numba supplies the
#: typing context of the definitions below)
_BitCast = Callable[[Any], Any]

__all__ = ["int32_as_float32", "float32_as_int32", "int64_as_float64", "float64_as_int64"]


def _int32_as_float32(typingctx, x):  # noqa: ARG001 - numba intrinsic signature
    """The float32 whose bit pattern is the int32 ``x``."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


def _float32_as_int32(typingctx, x):  # noqa: ARG001
    """The int32 bit pattern of the float32 ``x``."""
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


def _int64_as_float64(typingctx, x):  # noqa: ARG001
    """The float64 whose bit pattern is the int64 ``x``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


def _float64_as_int64(typingctx, x):  # noqa: ARG001
    """The int64 bit pattern of the float64 ``x``."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


int32_as_float32 = cast(_BitCast, intrinsic(_int32_as_float32))
float32_as_int32 = cast(_BitCast, intrinsic(_float32_as_int32))
int64_as_float64 = cast(_BitCast, intrinsic(_int64_as_float64))
float64_as_int64 = cast(_BitCast, intrinsic(_float64_as_int64))

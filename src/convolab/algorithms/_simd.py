"""Explicit SIMD vectors for the compiled loops (numba), a vocabulary of six words.

numba vectorizes loops over arrays by itself, but a sum that has to stay in
a register across a loop over kernel taps is beyond it: its vectorized
loops load and store every partial sum once per pass.  A *register tile*
keeps sixteen vectors of sums in registers for the whole tap loop and
touches memory only for the inputs it multiplies, which is what lets a loop
reach the machine's multiply-add rate.  These intrinsics let a numba
function hold SIMD vectors as ordinary local variables:

``vzero(arr)``
    a vector of zeros of ``arr``'s dtype (float32 or float64);
``vload(arr, i)``
    the vector ``arr.flat[i:i + lanes]`` of a C-contiguous array;
``vsplat(arr, s)``
    ``s`` in every lane;
``vfma(a, b, c)``
    ``a * b + c`` lane by lane with one rounding (LLVM's ``fma``);
``vadd(a, b)``
    ``a + b`` lane by lane;
``vstore(arr, i, v)``
    ``arr.flat[i:i + lanes] = v``;

and ``lanes(arr)``, the number of lanes (a compile-time constant).  A
vector holds 64 bytes on machines with AVX-512 (16 float32), 32 bytes
elsewhere.  Nothing is bounds-checked: the caller guarantees that
``i + lanes`` stays inside the array.

Only :mod:`._numba_loops` imports this module (it imports numba).
"""

import numba  # noqa: F401 - the extension API below needs numba loaded
from llvmlite import binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, models, register_model


def _vector_bytes() -> int:
    """64 with AVX-512 (32 registers of 64 bytes), else 32 (AVX2's width;
    narrower machines split each vector into several registers)."""
    try:
        features = llvm.get_host_cpu_features()
        return 64 if features.get("avx512f", False) else 32
    except Exception:           # pragma: no cover - host features unknown
        return 32


VECTOR_BYTES = _vector_bytes()


class Vector(types.Type):
    """The numba type of a SIMD vector of ``lanes`` values of ``dtype``."""

    def __init__(self, dtype, lanes):
        self.dtype = dtype
        self.lanes = lanes
        super().__init__(name=f"Vector({dtype}, {lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _vector_of(dtype) -> Vector:
    if dtype not in (types.float32, types.float64):
        raise numba.core.errors.TypingError(f"SIMD vectors hold float32 or float64, not {dtype}")
    return Vector(dtype, VECTOR_BYTES * 8 // dtype.bitwidth)


def _element_pointer(context, builder, array_type, array, index, vector):
    data = context.make_array(array_type)(context, builder, array).data
    pointer = builder.gep(data, [index])
    return builder.bitcast(pointer, context.get_value_type(vector).as_pointer())


@intrinsic
def lanes(typingctx, arr):
    count = _vector_of(arr.dtype).lanes

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, count)
    return types.intp(arr), codegen


@intrinsic
def vzero(typingctx, arr):
    vector = _vector_of(arr.dtype)

    def codegen(context, builder, signature, args):
        return ir.Constant(context.get_value_type(vector), None)
    return vector(arr), codegen


@intrinsic
def vload(typingctx, arr, index):
    vector = _vector_of(arr.dtype)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1], vector)
        return builder.load(pointer, align=vector.dtype.bitwidth // 8)
    return vector(arr, types.intp), codegen


@intrinsic
def vstore(typingctx, arr, index, value):
    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature.args[0], args[0], args[1],
                                   signature.args[2])
        builder.store(args[2], pointer, align=signature.args[2].dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.none(arr, types.intp, value), codegen


@intrinsic
def vsplat(typingctx, arr, scalar):
    vector = _vector_of(arr.dtype)

    def codegen(context, builder, signature, args):
        vtype = context.get_value_type(vector)
        value = context.cast(builder, args[1], signature.args[1], vector.dtype)
        one = builder.insert_element(ir.Constant(vtype, ir.Undefined), value,
                                     ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes)
        return builder.shuffle_vector(one, ir.Constant(vtype, ir.Undefined), zeros)
    return vector(arr, scalar), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    if not (isinstance(a, Vector) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        vtype = args[0].type
        name = f"llvm.fma.v{signature.args[0].lanes}f{signature.args[0].dtype.bitwidth}"
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vtype, [vtype] * 3),
                                             name)
        return builder.call(fma, list(args))
    return a(a, b, c), codegen



@intrinsic
def vadd(typingctx, a, b):
    if not (isinstance(a, Vector) and a == b):
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1])
    return a(a, b), codegen

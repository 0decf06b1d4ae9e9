"""Explicit SIMD vectors for the compiled loops (numba), a small vocabulary.

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
``vbroadcast(arr, i)``
    ``arr.flat[i]`` in every lane (one load, no check for negative ``i``);
``vfma(a, b, c)``
    ``a * b + c`` lane by lane with one rounding (LLVM's ``fma``);
``vadd(a, b)``
    ``a + b`` lane by lane;
``vstore(arr, i, v)``
    ``arr.flat[i:i + lanes] = v``;
``vtranspose(src, i, p, dst, j, q)``
    a ``lanes x lanes`` block of ``src`` (rows ``p`` apart from ``i``)
    written transposed into ``dst`` (rows ``q`` apart from ``j``), in
    registers: how the channel tiles turn channels-first data into
    channels-last and back;

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
        value = context.cast(builder, args[1], signature.args[1], vector.dtype)
        return _splat(context, builder, vector, value)

    return vector(arr, scalar), codegen


def _splat(context, builder, vector, value):
    """``value`` in every lane of a ``vector``."""
    vtype = context.get_value_type(vector)
    one = builder.insert_element(ir.Constant(vtype, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector.lanes), [0] * vector.lanes)
    return builder.shuffle_vector(one, ir.Constant(vtype, ir.Undefined), zeros)


@intrinsic
def vbroadcast(typingctx, arr, index):
    vector = _vector_of(arr.dtype)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return _splat(context, builder, vector, builder.load(builder.gep(data, [args[1]])))

    return vector(arr, types.intp), codegen


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


@intrinsic
def vtranspose(typingctx, src, i, src_pitch, dst, j, dst_pitch):
    """``dst.flat[j + k dst_pitch + l] = src.flat[i + l src_pitch + k]`` for
    ``k, l < lanes``: a square block of ``lanes x lanes`` values transposed
    in registers (``lanes`` vector loads, ``lanes log2(lanes)`` two-vector
    shuffles, ``lanes`` vector stores)."""
    vector = _vector_of(src.dtype)
    if dst.dtype != src.dtype:
        return None
    count = vector.lanes

    def codegen(context, builder, signature, args):
        src_ptr, dst_ptr = args[1], args[4]
        rows = []
        for row in range(count):
            at = builder.add(src_ptr, builder.mul(args[2], ir.Constant(args[2].type, row)))
            pointer = _element_pointer(context, builder, signature.args[0], args[0], at, vector)
            rows.append(builder.load(pointer, align=vector.dtype.bitwidth // 8))
        # swap the off-diagonal b x b blocks of every 2b x 2b block, b = L/2 .. 1
        b = count // 2
        while b:
            low = [lane if not lane & b else count + lane - b for lane in range(count)]
            high = [lane + b if not lane & b else count + lane for lane in range(count)]
            low = ir.Constant(ir.VectorType(ir.IntType(32), count), low)
            high = ir.Constant(ir.VectorType(ir.IntType(32), count), high)
            for row in range(count):
                if not row & b:
                    upper, lower = rows[row], rows[row + b]
                    rows[row] = builder.shuffle_vector(upper, lower, low)
                    rows[row + b] = builder.shuffle_vector(upper, lower, high)
            b //= 2
        for row in range(count):
            at = builder.add(dst_ptr, builder.mul(args[5], ir.Constant(args[5].type, row)))
            pointer = _element_pointer(context, builder, signature.args[3], args[3], at, vector)
            builder.store(rows[row], pointer, align=vector.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(src, types.intp, types.intp, dst, types.intp, types.intp), codegen

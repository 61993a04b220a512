"""Property-based tests: every he-tf op and dispatched TensorFlow call against NumPy.

Hypothesis draws the structure (layout, dtype, shapes of rank 1..3 with dims 1..6, axes, shifts,
operand kinds and orders, expression trees); values in [-10, 10] come from a NumPy generator seeded
by Hypothesis. Every example runs eagerly and inside a ``tf.function`` (which also decrypts in the
graph) on the same ciphertexts: the HE ops are deterministic, so both must decrypt to identical
values, with identical shapes, dtypes and level/scale metadata, and match NumPy within tolerance.

Runs are derandomized (the same examples on every run, so CI is reproducible) and do not shrink
(a shrink of HE examples takes minutes; the failing example is printed as drawn).
"""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import he_tf
from he_tf.arithmetic import poly_depth

# Default params (depth 2, scale 2^40): fresh noise ~1e-8, rescales ~1e-9 x |value| (<= 1e3 here): safe.
ATOL = 1e-5
# Each slot rotation adds a key-switching error of up to ~1e-6 (SEAL, 60-bit special prime), the same for
# every ciphertext of a key set: sums of rotated ciphertexts add these up, later multipliers scale them.
ROTATION_ERROR = 2e-6
# Matmul over the packed axis (diagonal method): rotated slots times weights in [-10, 10], F <= 10: <= 2.3e-5.
ROTATION_ATOL = 1e-4
# float32 results are rounded to float32 on decrypt: half an ulp (3e-5 at 1e3) more; one ulp leaves a margin.
F32_RTOL = float(np.finfo(np.float32).eps)

LOW, HIGH = -10.0, 10.0
SCALARS = st.floats(LOW, HIGH)
MAX_DIM = 6
MAX_CIPHERTEXTS = 12  # per tensor: keeps every example well under a second
SLOTS = he_tf.Params().slot_count
LONG = SLOTS + 1  # a packed axis spanning two ciphertexts


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def keys() -> he_tf.KeySet:
    # Overrides conftest's rotation-free keys: roll, sums and matmuls over the packed axis need Galois keys.
    return he_tf.KeySet.generate(he_tf.Params())


# ---- strategies and helpers ----------------------------------------------------------------------

LAYOUTS = st.sampled_from(["batch", "vector"])
DTYPES = st.sampled_from([np.float32, np.float64])
SEEDS = st.integers(0, 2**32 - 1)


def packed_axis(layout: str, rank: int) -> int:
    return 0 if layout == "batch" else rank - 1


@st.composite
def small_dims(draw, count: int, max_product: int = MAX_CIPHERTEXTS) -> tuple[int, ...]:
    """`count` dims in 1..6 whose product is at most about `max_product`."""
    dims, budget = [], max_product
    for _ in range(count):
        dims.append(draw(st.integers(1, max(1, min(MAX_DIM, budget)))))
        budget //= dims[-1]
    return tuple(dims)


@st.composite
def shapes(draw, layout: str, min_rank: int = 1, max_rank: int = 3, packed_length: int | None = None,
           max_ciphertexts: int = MAX_CIPHERTEXTS) -> tuple[int, ...]:
    """A logical shape whose non-packed axes span at most `max_ciphertexts` ciphertexts."""
    rank = draw(st.integers(min_rank, max_rank))
    dims = list(draw(small_dims(rank - 1, max_ciphertexts)))
    dims.insert(packed_axis(layout, rank), packed_length or draw(st.integers(1, MAX_DIM)))
    return tuple(dims)


@st.composite
def broadcastable_to(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to `shape` (1s anywhere, leading 1s possibly dropped)."""
    ones = [draw(st.booleans()) for _ in shape]
    out = [1 if one else d for one, d in zip(ones, shape)]
    leading = next((i for i, one in enumerate(ones) if not one), len(ones))
    return tuple(out[draw(st.integers(0, leading)):])


def draw_array(data, shape, dtype, label: str = "seed") -> np.ndarray:
    seed = data.draw(SEEDS, label=label)
    return np.random.default_rng(seed).uniform(LOW, HIGH, size=shape).astype(dtype)


def f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def encrypt(keys, x, layout):
    return he_tf.encrypt(keys.public, x, layout=layout)


def check(keys, fn, inputs, expected, dtype, atol: float = ATOL) -> he_tf.HETensor:
    """fn(*inputs) (HETensors in, an HETensor out), eagerly and in a tf.function, against `expected`."""
    expected = f64(expected)
    dtype = tf.as_dtype(dtype)
    eager = fn(*inputs)

    @tf.function
    def graph(*args):
        out = fn(*args)
        return out, he_tf.decrypt(keys.secret, out)

    traced, traced_plain = graph(*inputs)
    for out in (eager, traced):
        assert isinstance(out, he_tf.HETensor), type(out)
        assert out.shape == expected.shape, (out.shape, expected.shape)
        assert out.dtype == dtype, (out.dtype, dtype)
    meta = lambda t: (t.layout, t.packed_axis, t.level, t.scale, tuple(t.ciphertexts.shape))  # noqa: E731
    assert meta(traced) == meta(eager)

    plain = he_tf.decrypt(keys.secret, eager)
    assert plain.dtype == dtype and plain.shape == expected.shape, (plain.dtype, plain.shape)
    rtol = F32_RTOL if dtype == tf.float32 else 0.0
    np.testing.assert_allclose(f64(plain), expected, rtol=rtol, atol=atol, err_msg="HE result vs NumPy")
    np.testing.assert_array_equal(traced_plain.numpy(), plain.numpy(), err_msg="tf.function vs eager")
    return eager


def rotation_atol(rotations: int, amplification: float = 1.0) -> float:
    """ATOL plus the error of `rotations` slot rotations (summed into one value), times a later multiplier."""
    return ATOL + ROTATION_ERROR * rotations * max(1.0, amplification)


def sum_slots_rotations(length: int) -> int:
    """Rotations a sum over `length` slot values takes: log2 of the next power of two."""
    return math.ceil(math.log2(length)) if length > 1 else 0


def raises_eager_and_traced(fn, inputs, error=ValueError, match=None):
    with pytest.raises(error, match=match):
        fn(*inputs)
    with pytest.raises(error, match=match):
        tf.function(fn)(*inputs)


# ---- elementwise arithmetic ----------------------------------------------------------------------

BINARY = {
    "tf.add": (tf.add, np.add),
    "tf.math.add": (tf.math.add, np.add),
    "tf.subtract": (tf.subtract, np.subtract),
    "tf.multiply": (tf.multiply, np.multiply),
    "he_tf.add": (he_tf.add, np.add),
    "he_tf.subtract": (he_tf.subtract, np.subtract),
    "he_tf.multiply": (he_tf.multiply, np.multiply),
    "+": (operator.add, np.add),
    "-": (operator.sub, np.subtract),
    "*": (operator.mul, np.multiply),
}
BINARY_NAMES = st.sampled_from(sorted(BINARY))


@_settings(32)
@given(data=st.data())
def test_binary_two_hetensors(keys, data):
    """Same shapes, and broadcasting along non-packed axes (either side; lower rank for 'vector')."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    packed = packed_axis(layout, len(shape))
    a_shape, b_shape = list(shape), list(shape)
    for axis in range(len(shape)):
        if axis != packed:
            side = data.draw(st.sampled_from(["both", "a", "b"]), label=f"size-1 operand on axis {axis}")
            if side == "a":
                a_shape[axis] = 1
            elif side == "b":
                b_shape[axis] = 1
    if layout == "vector":  # the packed axis is last: dropping leading size-1 axes keeps it aligned
        lead = next(i for i, d in enumerate(b_shape) if d != 1 or i == packed)
        b_shape = b_shape[data.draw(st.integers(0, lead), label="leading axes dropped from b"):]
    tf_fn, np_fn = BINARY[data.draw(BINARY_NAMES, label="op")]
    same = data.draw(st.booleans(), label="same operand twice") and a_shape == b_shape  # x - x too
    a = draw_array(data, tuple(a_shape), dtype)
    b = a if same else draw_array(data, tuple(b_shape), dtype)
    x = encrypt(keys, a, layout)
    y = x if same else encrypt(keys, b, layout)
    check(keys, tf_fn, [x, y], np_fn(f64(a), f64(b)), dtype)


@_settings(48)
@given(data=st.data())
def test_binary_with_plaintext(keys, data):
    """NumPy arrays, tf.Tensors and Python scalars on either side, broadcasting along any axis of x."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    kind = data.draw(st.sampled_from(["numpy", "tf.Tensor", "float", "int"]), label="plaintext kind")
    if kind == "float":
        p = plain = data.draw(SCALARS, label="scalar")
    elif kind == "int":
        p = plain = data.draw(st.integers(-10, 10).filter(bool), label="scalar")  # not 0: see SCALARS
    else:
        p_shape = data.draw(broadcastable_to(shape), label="plaintext shape")
        p_dtype = dtype if kind == "tf.Tensor" else data.draw(DTYPES, label="plaintext dtype")
        p = draw_array(data, p_shape, p_dtype)
        plain = tf.constant(p) if kind == "tf.Tensor" else p
    name = data.draw(BINARY_NAMES, label="op")
    plain_first = data.draw(st.booleans(), label="plaintext on the left")
    tf_fn, np_fn = BINARY[name]
    a = draw_array(data, shape, dtype)
    if plain_first:
        check(keys, lambda x: tf_fn(plain, x), [encrypt(keys, a, layout)], np_fn(f64(p), f64(a)), dtype)
    else:
        check(keys, lambda x: tf_fn(x, plain), [encrypt(keys, a, layout)], np_fn(f64(a), f64(p)), dtype)


UNARY = {
    "tf.negative": (tf.negative, np.negative),
    "tf.math.negative": (tf.math.negative, np.negative),
    "-x": (operator.neg, np.negative),
    "he_tf.negative": (he_tf.negative, np.negative),
    "tf.math.square": (tf.math.square, np.square),
    "tf.square": (tf.square, np.square),
    "he_tf.square": (he_tf.square, np.square),
}


@_settings(12)
@given(data=st.data())
def test_unary(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    name = data.draw(st.sampled_from(sorted(UNARY)), label="op")
    a = draw_array(data, shape, dtype)
    check(keys, UNARY[name][0], [encrypt(keys, a, layout)], UNARY[name][1](f64(a)), dtype)


def test_large_packed_axis_shapes(keys):
    """4097 values along the packed axis span two ciphertexts of 2049 slots each."""
    x = encrypt(keys, np.zeros((LONG, 2)), "batch")
    assert x.ciphertexts.shape == (2, 2) and x.values_per_ciphertext == (LONG + 1) // 2
    v = encrypt(keys, np.zeros((2, LONG)), "vector")
    assert v.ciphertexts.shape == (2, 2)


LARGE_OPS = ["x + y", "x - y", "x * y", "x * p", "p + x", "x * c", "sum(x * y, packed)", "sum(x, other)",
             "sum(x)", "sum(x, packed, keepdims)"]


@_settings(12)
@given(data=st.data())
def test_large_packed_axis(keys, data):
    """Add, multiply and reduce_sum with a packed axis longer than one ciphertext."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout, max_rank=2, packed_length=LONG, max_ciphertexts=2), label="shape")
    packed, rank = packed_axis(layout, len(shape)), len(shape)
    op = data.draw(st.sampled_from(LARGE_OPS), label="op")
    a, b = draw_array(data, shape, dtype, "seed a"), draw_array(data, shape, dtype, "seed b")
    p = draw_array(data, shape, np.float64, "seed p")  # varies along the packed axis
    c = draw_array(data, [1 if i == packed else d for i, d in enumerate(shape)], np.float64, "seed c")
    other = (packed + 1) % rank
    a64, b64 = f64(a), f64(b)
    fns = {
        "x + y": (lambda x, y: x + y, a64 + b64),
        "x - y": (lambda x, y: tf.subtract(x, y), a64 - b64),
        "x * y": (lambda x, y: tf.multiply(x, y), a64 * b64),
        "x * p": (lambda x, y: x * p, a64 * p),
        "p + x": (lambda x, y: tf.add(p, x), p + a64),
        "x * c": (lambda x, y: x * c, a64 * c),
        "sum(x * y, packed)": (lambda x, y: tf.reduce_sum(x * y, axis=packed), (a64 * b64).sum(axis=packed)),
        "sum(x, other)": (lambda x, y: tf.reduce_sum(x, axis=other), a64.sum(axis=other)),
        "sum(x)": (lambda x, y: tf.reduce_sum(x), a64.sum()),
        "sum(x, packed, keepdims)": (lambda x, y: tf.reduce_sum(x, packed, keepdims=True),
                                     a64.sum(axis=packed, keepdims=True)),
    }
    fn, expected = fns[op]
    sums_packed = op in ("sum(x * y, packed)", "sum(x)", "sum(x, packed, keepdims)") or (
        op == "sum(x, other)" and rank == 1)  # other == packed
    # Each of the 2 ciphertexts along the packed axis (and each along a summed other axis) rotates 12 times.
    summed_ciphertexts = 2 * (math.prod(shape) // LONG if op == "sum(x)" else 1)
    rotations = sum_slots_rotations((LONG + 1) // 2) * summed_ciphertexts if sums_packed else 0
    check(keys, fn, [encrypt(keys, a, layout), encrypt(keys, b, layout)], expected, dtype,
          rotation_atol(rotations))


# ---- chains across levels and scales -------------------------------------------------------------

CHAINS = {
    "x*y + x": (lambda x, y, z, c, k: x * y + x),
    "x + x*y": (lambda x, y, z, c, k: tf.add(x, tf.multiply(x, y))),
    "(x*y)*c + z": (lambda x, y, z, c, k: (x * y) * c + z),
    "z - (x*y)*c": (lambda x, y, z, c, k: z - (x * y) * c),
    "(x*y)*k - z": (lambda x, y, z, c, k: tf.subtract((x * y) * k, z)),
    "x*y*z": (lambda x, y, z, c, k: x * y * z),
    "x*(y*z)": (lambda x, y, z, c, k: tf.multiply(x, tf.multiply(y, z))),
    "square(x)*y - z": (lambda x, y, z, c, k: tf.math.square(x) * y - z),
    "square(x)*k + x*y": (lambda x, y, z, c, k: tf.math.square(x) * k + x * y),
    "(x*k + y)*z": (lambda x, y, z, c, k: (x * k + y) * z),
    "x*y + z*c": (lambda x, y, z, c, k: x * y + z * c),  # same level, different scales
    "z*c - x*y": (lambda x, y, z, c, k: z * c - x * y),
    "(x*y + z*c) + x": (lambda x, y, z, c, k: (x * y + z * c) + x),
    # float64 coefficients: TF's own polyval cannot mix Python floats (float32) with a float64 x
    "polyval(x) + x*y": (lambda x, y, z, c, k: tf.math.polyval(list(np.array([0.5, -1.0, 2.0])), x) + x * y),
    "(x + y)*(x - z)": (lambda x, y, z, c, k: (x + y) * (x - z)),
    "-(x*y) + square(z)*k": (lambda x, y, z, c, k: -(x * y) + tf.math.square(z) * k),
}


@_settings(32)
@given(data=st.data())
def test_chains_align_levels_and_scales(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    name = data.draw(st.sampled_from(sorted(CHAINS)), label="chain")
    x, y, z = (draw_array(data, shape, dtype, f"seed {v}") for v in "xyz")
    c = draw_array(data, data.draw(broadcastable_to(shape), label="c shape"), dtype, "seed c")
    k = data.draw(SCALARS, label="k")
    # The expected values: the same chain on float64 tf.Tensors.
    expected = CHAINS[name](*(tf.constant(f64(v)) for v in (x, y, z)), f64(c), k).numpy()
    inputs = [encrypt(keys, v, layout) for v in (x, y, z)]
    check(keys, lambda a, b, d: CHAINS[name](a, b, d, c, k), inputs, expected, dtype)


class _Expr:
    """A random expression: its NumPy value, how to build it from HETensors, and its planned level/scale."""

    def __init__(self, value, build, text, bound, level=None, scale=None):
        self.value, self.build, self.text, self.bound = value, build, text, bound
        self.level, self.scale = level, scale

    @property
    def encrypted(self) -> bool:
        return self.level is not None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


def _add_level_scale(a: _Expr, b: _Expr):
    """(level, scale) of a + b per he-tf's rules (docs: adds align levels; a scale change costs a level)."""
    if _close(a.scale, b.scale):
        return min(a.level, b.level), a.scale
    if a.level != b.level:
        low = a if a.level < b.level else b
        return low.level, low.scale
    return (a.level - 1, b.scale) if a.level >= 1 else None


MAX_MAGNITUDE = 1e3  # keeps every intermediate within the tolerance's assumptions


def _random_expression(data, inputs, dtype, primes, ops_left, force_op=False) -> _Expr:
    if ops_left[0] == 0 or not (force_op or data.draw(st.integers(0, 3), label="expand")):
        i = data.draw(st.integers(0, len(inputs) - 1), label="input")
        return _Expr(f64(inputs[i]), lambda hs, i=i: hs[i], f"x{i}", 10.0, level=2, scale=2.0**40)
    ops_left[0] -= 1
    op = data.draw(st.sampled_from(["add", "sub", "mul", "neg", "square"]), label="node")
    a = _random_expression(data, inputs, dtype, primes, ops_left)
    if op == "neg":
        fn = data.draw(st.sampled_from([operator.neg, tf.negative]), label="neg")
        return _Expr(-a.value, lambda hs: fn(a.build(hs)), f"-({a.text})", a.bound, a.level, a.scale)
    if op == "square":
        if a.level < 1 or a.bound**2 > MAX_MAGNITUDE:
            return a
        return _Expr(a.value**2, lambda hs: tf.math.square(a.build(hs)), f"square({a.text})", a.bound**2,
                     a.level - 1, a.scale**2 / primes[a.level])
    kind = data.draw(st.sampled_from(["encrypted", "array", "tf.Tensor", "scalar"]), label="operand")
    if kind == "encrypted":
        b = _random_expression(data, inputs, dtype, primes, ops_left)
    elif kind == "scalar":
        s = data.draw(SCALARS, label="scalar")
        b = _Expr(np.float64(s), lambda hs: s, repr(s), abs(s))
    else:
        p = draw_array(data, inputs[0].shape, dtype, "plaintext seed")
        obj = tf.constant(p) if kind == "tf.Tensor" else p
        b = _Expr(f64(p), lambda hs: obj, f"{kind}{p.shape}", 10.0)
    if op == "mul":
        if b.encrypted:
            low = a if a.level <= b.level else b
            if low.level < 1:
                return a
            level, scale = low.level - 1, a.scale * b.scale / primes[low.level]
        else:
            if a.level < 1:
                return a
            level, scale = a.level - 1, a.scale
        bound = a.bound * b.bound
        if bound > MAX_MAGNITUDE:
            return a
    else:
        planned = _add_level_scale(a, b) if b.encrypted else (a.level, a.scale)
        if planned is None:
            return a
        level, scale = planned
        bound = a.bound + b.bound
        if bound > MAX_MAGNITUDE:
            return a
    if data.draw(st.booleans(), label="swap operands"):
        a, b = b, a
    symbol, tf_name = {"add": ("+", "tf.add"), "sub": ("-", "tf.subtract"), "mul": ("*", "tf.multiply")}[op]
    tf_fn, np_fn = BINARY[data.draw(st.sampled_from([symbol, tf_name]), label="style")]
    return _Expr(np_fn(a.value, b.value), lambda hs: tf_fn(a.build(hs), b.build(hs)),
                 f"({a.text} {symbol} {b.text})", bound, level, scale)


@_settings(40)
@given(data=st.data())
def test_random_expressions(keys, data):
    """Random trees of +, -, *, negation and squares over encrypted and plaintext operands, depth <= 2."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    inputs = [draw_array(data, shape, dtype, f"seed x{i}") for i in range(3)]
    primes = keys.public.params.primes
    expr = _random_expression(data, inputs, dtype, primes, [data.draw(st.integers(1, 5), label="ops")],
                              force_op=True)
    note(f"expression: {expr.text}, planned level {expr.level}")
    check(keys, lambda *hs: expr.build(hs), [encrypt(keys, v, layout) for v in inputs], expr.value, dtype)


def test_depth_exhaustion_raises(keys):
    x = encrypt(keys, np.ones((3, 2)), "batch")
    raises_eager_and_traced(lambda a: a * a * a * a, [x], match="more multiplicative level")


PYTHON_FLOAT_OPERANDS = {
    "x * 0.1": (lambda h: h * 0.1, lambda v: v * 0.1),
    "tf.add(x, 1000.1)": (lambda h: tf.add(h, 1000.1), lambda v: v + 1000.1),
    "x - [1000.1, 0.2]": (lambda h: h - [1000.1, 0.2], lambda v: v - np.array([1000.1, 0.2])),
    "polyval([0.1, 0.0], x)": (lambda h: tf.math.polyval([0.1, 0.0], h), lambda v: 0.1 * v),
    "x @ [[0.1], [0.2]]": (lambda h: h @ [[0.1], [0.2]], lambda v: v @ np.array([[0.1], [0.2]])),
}


@pytest.mark.parametrize("op", sorted(PYTHON_FLOAT_OPERANDS))
def test_python_float_operands_keep_float64_precision(keys, op):
    a = np.array([[1e4, -1e4], [3e3, 7e3]])
    # Fresh ciphertexts decrypt to ~1e-8, one plaintext multiplication (no rotations in 'batch') adds ~1e-9 x
    # the magnitude: 1e-7 is loose, while float32 operands are off by 1.5e-6 (x * 0.1) to 2.4e-5 (+ 1000.1).
    check(keys, PYTHON_FLOAT_OPERANDS[op][0], [encrypt(keys, a, "batch")], PYTHON_FLOAT_OPERANDS[op][1](a),
          np.float64, atol=1e-7)


# ---- reductions ----------------------------------------------------------------------------------

REDUCE_SUM = {"tf.reduce_sum": tf.reduce_sum, "tf.math.reduce_sum": tf.math.reduce_sum,
              "he_tf.reduce_sum": he_tf.reduce_sum}


@_settings(40)
@given(data=st.data())
def test_reduce_sum(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    rank = len(shape)
    form = data.draw(st.sampled_from(["None", "int", "list"]), label="axis form")
    if form == "None":
        axis = None
    elif form == "int":
        axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    else:
        chosen = data.draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True),
                           label="axes")
        axis = [a - rank if data.draw(st.booleans(), label="negative") else a for a in chosen]
    keepdims = data.draw(st.booleans(), label="keepdims")
    name = data.draw(st.sampled_from(sorted(REDUCE_SUM)), label="api")
    before = data.draw(st.sampled_from(["fresh", "x*c", "x*y"]), label="input")
    summed = set(range(rank)) if axis is None else {v % rank for v in np.atleast_1d(axis).tolist()}
    packed = packed_axis(layout, rank)
    # A sum over a packed axis of several values takes a level (the mask that clears the partial sums).
    masked = packed in summed and shape[packed] > 1
    # Then an op on the result (whose packed axis may be gone); products only if the sums stay moderate and
    # the depth (2) allows.
    thens = ["", "+ q"] if before == "x*y" or (before == "x*c" and masked) else ["", "+ q", "* q", "polyval",
                                                                                  "@ w"]
    then = data.draw(st.sampled_from(thens), label="then")
    a, b = draw_array(data, shape, dtype, "seed a"), draw_array(data, shape, dtype, "seed b")
    c = float(data.draw(st.floats(-2, 2), label="c"))
    np_axis = None if axis is None else tuple(axis) if isinstance(axis, list) else axis
    pre = {"fresh": f64(a), "x*c": f64(a) * c, "x*y": f64(a) * f64(b)}[before]
    expected = pre.sum(axis=np_axis, keepdims=keepdims)
    if then == "@ w" and expected.ndim == 0:
        then = ""
    q = draw_array(data, expected.shape, dtype, "seed q")
    w = draw_array(data, expected.shape[-1:] + (3,), np.float64, "seed w")
    follow = {
        "": (lambda h: h, lambda v: v),
        "+ q": (lambda h: h + q, lambda v: v + f64(q)),
        "* q": (lambda h: tf.multiply(q, h), lambda v: v * f64(q)),
        "polyval": (lambda h: tf.math.polyval([0.5, -2.0], h), lambda v: 0.5 * v - 2.0),
        "@ w": (lambda h: tf.matmul(h, w) if len(h.shape) >= 2 else h @ w, lambda v: v @ w),
    }[then]
    expected = follow[1](expected)

    def fn(x, y):
        x = {"fresh": x, "x*c": x * c, "x*y": x * y}[before]
        return follow[0](REDUCE_SUM[name](x, axis=axis, keepdims=keepdims))

    if packed in summed:  # each output adds up the rotated slot sums of the ciphertexts along the other axes
        rotations = sum_slots_rotations(shape[packed]) * math.prod(shape[i] for i in summed if i != packed)
        amplification = {"* q": np.abs(q).max(), "@ w": np.abs(w).sum(axis=0).max()}.get(then, 1.0)
        atol = rotation_atol(rotations, amplification)
    elif then == "@ w" and (packed == rank - 1 or (not keepdims and packed == rank - len(summed) - 1)):
        atol = ROTATION_ATOL  # a matmul over the packed axis, which the sum left in place
    else:
        atol = ATOL
    check(keys, fn, [encrypt(keys, a, layout), encrypt(keys, b, layout)], expected, dtype, atol)


# ---- matmul --------------------------------------------------------------------------------------

MATMUL_TF = {"tf.matmul": tf.matmul, "tf.linalg.matmul": tf.linalg.matmul}


@st.composite
def transpose_flag(draw, label):
    return draw(st.sampled_from(["", "transpose", "adjoint"]), label=label)


def _matmul_kwargs(flag_a, flag_b):
    kwargs = {}
    if flag_a:
        kwargs[f"{flag_a}_a"] = True
    if flag_b:
        kwargs[f"{flag_b}_b"] = True
    return kwargs


@_settings(36)
@given(data=st.data())
def test_matmul_plaintext_on_the_right(keys, data):
    """x[..., F] @ w[F, K]: 'batch' without rotations, 'vector' (and rank-1 'batch') by diagonals."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    api = data.draw(st.sampled_from(["tf.matmul", "tf.linalg.matmul", "@", "he_tf.matmul"]), label="api")
    min_rank = 2 if api.startswith("tf.") else 1
    rank = data.draw(st.integers(min_rank, 3), label="rank")
    features = data.draw(st.integers(1, 10), label="F")
    outputs = data.draw(st.integers(1, 8), label="K")
    shape = data.draw(small_dims(rank - 1, 6), label="leading dims") + (features,)
    flag_a = data.draw(transpose_flag("a flag")) if api.startswith("tf.") and rank == 2 else ""
    flag_b = data.draw(transpose_flag("b flag")) if api.startswith("tf.") else ""
    a = draw_array(data, shape, dtype, "seed x")
    w = draw_array(data, (features, outputs), data.draw(DTYPES, label="w dtype"), "seed w")
    w_obj = data.draw(st.sampled_from(["numpy", "tf.Tensor"]), label="w kind")
    w_arg = w.T if flag_b else w
    w_arg = tf.constant(w_arg) if w_obj == "tf.Tensor" else w_arg
    enc = a.T if flag_a else a  # transpose_a: encrypt x^T, let matmul transpose it back
    x = encrypt(keys, enc, layout)
    contracts_packed = x.packed_axis == (0 if flag_a else x.rank - 1)
    note(f"contracts the packed axis: {contracts_packed}")
    if api == "@":
        fn = lambda h: h @ w_arg  # noqa: E731
    elif api == "he_tf.matmul":
        fn = lambda h: he_tf.matmul(h, w_arg)  # noqa: E731
    else:
        fn = lambda h: MATMUL_TF[api](h, w_arg, **_matmul_kwargs(flag_a, flag_b))  # noqa: E731
    check(keys, fn, [x], f64(a) @ f64(w), dtype, ROTATION_ATOL if contracts_packed else ATOL)


@_settings(20)
@given(data=st.data())
def test_matmul_plaintext_on_the_left(keys, data):
    """w[K, S] @ x[S, F] for rank-2 x."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    apis = ["tf.matmul", "tf.linalg.matmul", "numpy @", "tf.Tensor @", "he_tf.matmul"]
    api = data.draw(st.sampled_from(apis), label="api")
    rows = data.draw(st.integers(1, 6), label="S")
    cols = data.draw(st.integers(1, 6), label="F")
    outputs = data.draw(st.integers(1, 8), label="K")
    flag_a = data.draw(transpose_flag("a flag")) if api in MATMUL_TF else ""
    flag_b = data.draw(transpose_flag("b flag")) if api in MATMUL_TF else ""
    a = draw_array(data, (rows, cols), dtype, "seed x")
    w = draw_array(data, (outputs, rows), dtype, "seed w")
    x = encrypt(keys, a.T if flag_b else a, layout)
    # The product contracts x's axis 0 (after transpose_b): rotations if that axis is packed.
    contracts_packed = x.packed_axis == (1 if flag_b else 0)
    w_arg = w.T if flag_a else w
    if api == "numpy @":
        fn = lambda h: w_arg @ h  # noqa: E731
    elif api == "tf.Tensor @":
        fn = lambda h: tf.constant(w_arg) @ h  # noqa: E731
    elif api == "he_tf.matmul":
        fn = lambda h: he_tf.matmul(w_arg, h)  # noqa: E731
    else:
        fn = lambda h: MATMUL_TF[api](w_arg, h, **_matmul_kwargs(flag_a, flag_b))  # noqa: E731
    check(keys, fn, [x], f64(w) @ f64(a), dtype, ROTATION_ATOL if contracts_packed else ATOL)


@_settings(12)
@given(data=st.data())
def test_matmul_with_a_vector(keys, data):
    """x[..., F] @ w[F] (a dot product over the last axis): he_tf.matmul and the @ operator."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    features = data.draw(st.integers(1, 10), label="F")
    rank = data.draw(st.integers(1, 3), label="rank")
    shape = data.draw(small_dims(rank - 1, 6), label="leading dims") + (features,)
    a = draw_array(data, shape, dtype, "seed x")
    w = draw_array(data, (features,), np.float64, "seed w")
    use_operator = data.draw(st.booleans(), label="@")
    fn = (lambda h: h @ w) if use_operator else (lambda h: he_tf.matmul(h, w))
    # Over the packed axis ('vector', or rank-1 'batch'): a product, then a sum over the slots.
    packed_last = layout == "vector" or rank == 1
    check(keys, fn, [encrypt(keys, a, layout)], f64(a) @ w, dtype,
          rotation_atol(sum_slots_rotations(features) if packed_last else 0))


@pytest.mark.parametrize("layout", ["batch", "vector"])
def test_matmul_transpose_a_rank3(keys, layout):
    rng = np.random.default_rng(0)
    a = rng.uniform(LOW, HIGH, (2, 3, 4))  # [batch, F, S]: transpose_a makes it [batch, S, F]
    w = rng.uniform(LOW, HIGH, (3, 5))
    expected = tf.matmul(tf.constant(a), tf.constant(w), transpose_a=True).numpy()  # TF's own semantics
    check(keys, lambda h: tf.matmul(h, w, transpose_a=True), [encrypt(keys, a, layout)], expected, np.float64,
          ROTATION_ATOL)


# ---- roll and polyval ----------------------------------------------------------------------------

@_settings(28)
@given(data=st.data())
def test_roll(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    rank = len(shape)
    packed = packed_axis(layout, rank)
    count = data.draw(st.integers(1, 2), label="rolls")
    axis_strategy = st.one_of(st.just(packed), st.integers(-rank, rank - 1))  # the packed axis often
    axes = [data.draw(axis_strategy, label="axis") for _ in range(count)]
    shifts = [data.draw(st.integers(-7, 7), label="shift") for _ in range(count)]
    api = data.draw(st.sampled_from(["tf.roll", "he_tf.roll"]), label="api")
    roll = tf.roll if api == "tf.roll" else he_tf.roll
    shift, axis = (shifts[0], axes[0]) if count == 1 else (shifts, axes)
    a = draw_array(data, shape, dtype)
    # A roll on the packed axis: two rotations (of up to 2 power-of-two steps each), masked and added.
    packed_rolls = sum(1 for v, k in zip(axes, shifts) if v % rank == packed and k % shape[packed])
    check(keys, lambda h: roll(h, shift=shift, axis=axis), [encrypt(keys, a, layout)],
          np.roll(f64(a), shift=shift, axis=axis if count == 1 else tuple(axes)), dtype,
          rotation_atol(4 * packed_rolls))


@_settings(16)
@given(data=st.data())
def test_polyval(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    coeffs = data.draw(st.lists(SCALARS, min_size=2, max_size=3), label="coeffs")  # non-zero: see SCALARS
    apis = ["tf.math.polyval", "he_tf.polyval", "he_tf.polyval(array)"]
    api = data.draw(st.sampled_from(apis), label="api")
    # A degree-1 polynomial leaves a level: apply it after a multiplication too.
    scale_first = len(coeffs) == 2 and data.draw(st.booleans(), label="after x * 0.5")
    a = draw_array(data, shape, dtype)

    def fn(h):
        h = h * 0.5 if scale_first else h
        if api == "tf.math.polyval":
            return tf.math.polyval(coeffs, h)
        return he_tf.polyval(np.array(coeffs) if api.endswith("(array)") else coeffs, h)

    result = check(keys, fn, [encrypt(keys, a, layout)],
                   np.polyval(coeffs, f64(a) * (0.5 if scale_first else 1.0)), dtype)
    assert result.level == keys.public.params.depth - poly_depth(len(coeffs) - 1) - scale_first


# ---- moving ciphertexts: reshape, transpose, concat, stack, gather ------------------------------------

def _then_multiply(data, shape, dtype):
    """A follow-up y * p (p varying along every axis): proves the result's packed axis is tracked right."""
    p = draw_array(data, shape, dtype, "follow-up seed")
    return p, (lambda y: y * p)


@st.composite
def factorizations(draw, n: int) -> list[int]:
    """n as a product of 0 (n == 1 only), 1 or 2 factors, 1s allowed."""
    count = draw(st.integers(0 if n == 1 else 1, 2))
    if count < 2:
        return [n] * count
    d = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    return [d, n // d]


@_settings(20)
@given(data=st.data())
def test_reshape_around_the_packed_axis(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    packed = packed_axis(layout, len(shape))
    before = data.draw(factorizations(math.prod(shape[:packed])), label="dims before")
    after = data.draw(factorizations(math.prod(shape[packed + 1:])), label="dims after")
    new = before + [shape[packed]] + after  # no -1: see test_reshape_with_minus_one
    api = data.draw(st.sampled_from(["tf.reshape", "he_tf.reshape"]), label="api")
    reshape = tf.reshape if api == "tf.reshape" else he_tf.reshape
    a = draw_array(data, shape, dtype)
    expected = f64(a).reshape(new)
    p, then = _then_multiply(data, expected.shape, dtype)
    check(keys, lambda h: then(reshape(h, new)), [encrypt(keys, a, layout)], expected * f64(p), dtype)


@_settings(20)
@given(data=st.data())
def test_transpose(keys, data):
    """Any permutation, the packed axis included (it moves with the data)."""
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout), label="shape")
    perm = data.draw(st.one_of(st.none(), st.permutations(range(len(shape)))), label="perm")
    api = data.draw(st.sampled_from(["tf.transpose", "he_tf.transpose"]), label="api")
    transpose = tf.transpose if api == "tf.transpose" else he_tf.transpose
    then_sum = data.draw(st.booleans(), label="then reduce_sum over every axis")
    a = draw_array(data, shape, dtype)
    expected = np.transpose(f64(a), perm)
    p, then = _then_multiply(data, expected.shape, dtype)
    if then_sum:
        packed_length = shape[packed_axis(layout, len(shape))]
        rotations = sum_slots_rotations(packed_length) * (math.prod(shape) // packed_length)
        check(keys, lambda h: tf.reduce_sum(then(transpose(h, perm)), axis=list(range(len(shape)))),
              [encrypt(keys, a, layout)], (expected * f64(p)).sum(), dtype, rotation_atol(rotations))
    else:
        check(keys, lambda h: then(transpose(h, perm)), [encrypt(keys, a, layout)], expected * f64(p), dtype)


# Levels/scales pieces are brought to before being joined: all fresh, some at level 1 with the same scale
# (times a plaintext constant), or some at level 1 with another scale (times an encrypted tensor).
PIECE_PREP = {
    "fresh": (lambda h: h, lambda v: v),
    "times 2": (lambda h: h * 2.0, lambda v: v * 2.0),
    "squared": (lambda h: tf.math.square(h), np.square),
}
# Mixing "times 2" and "squared" (same level, other scales) costs the join a level: see
# test_join_same_level_different_scales.
PIECE_GROUPS = [("fresh", "times 2"), ("fresh", "squared")]


@_settings(20)
@given(data=st.data())
def test_concat(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout, min_rank=2), label="shape")
    rank, packed = len(shape), packed_axis(layout, len(shape))
    axis = data.draw(st.sampled_from([a for a in range(rank) if a != packed]), label="axis")
    axis_arg = axis - rank if data.draw(st.booleans(), label="negative axis") else axis
    count = data.draw(st.integers(1, 3), label="tensors")
    group = data.draw(st.sampled_from(PIECE_GROUPS), label="prep group")
    preps = [data.draw(st.sampled_from(group), label="prep") for _ in range(count)]
    pieces = []
    for i in range(count):
        piece_shape = list(shape)
        piece_shape[axis] = data.draw(st.integers(1, 3), label="length")
        pieces.append(draw_array(data, tuple(piece_shape), dtype, f"seed {i}"))
    api = data.draw(st.sampled_from(["tf.concat", "he_tf.concat"]), label="api")
    concat = tf.concat if api == "tf.concat" else he_tf.concat
    expected = np.concatenate([PIECE_PREP[r][1](f64(v)) for r, v in zip(preps, pieces)], axis=axis)
    p, then = _then_multiply(data, expected.shape, dtype)

    def fn(*hs):
        return then(concat([PIECE_PREP[r][0](h) for r, h in zip(preps, hs)], axis=axis_arg))

    check(keys, fn, [encrypt(keys, v, layout) for v in pieces], expected * f64(p), dtype)


@_settings(12)
@given(data=st.data())
def test_stack(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout, max_ciphertexts=6), label="shape")
    rank = len(shape)
    axis = data.draw(st.integers(-rank - 1, rank), label="axis")
    count = data.draw(st.integers(2, 3), label="tensors")  # not 1: see test_stack_of_one_tensor
    group = data.draw(st.sampled_from(PIECE_GROUPS), label="prep group")
    preps = [data.draw(st.sampled_from(group), label="prep") for _ in range(count)]
    pieces = [draw_array(data, shape, dtype, f"seed {i}") for i in range(count)]
    api = data.draw(st.sampled_from(["tf.stack", "he_tf.stack"]), label="api")
    stack = tf.stack if api == "tf.stack" else he_tf.stack
    expected = np.stack([PIECE_PREP[r][1](f64(v)) for r, v in zip(preps, pieces)], axis=axis)
    p, then = _then_multiply(data, expected.shape, dtype)

    def fn(*hs):
        return then(stack([PIECE_PREP[r][0](h) for r, h in zip(preps, hs)], axis=axis))

    check(keys, fn, [encrypt(keys, v, layout) for v in pieces], expected * f64(p), dtype)


@pytest.mark.parametrize("join", ["concat", "stack"])
def test_join_same_level_different_scales(keys, join):
    a = np.arange(6.0).reshape(3, 2)
    x, y = encrypt(keys, a, "batch"), encrypt(keys, a + 1, "batch")
    if join == "concat":
        fn = lambda h, g: tf.concat([h * 2.0, g * g], axis=1)  # noqa: E731
        expected = np.concatenate([a * 2, (a + 1) ** 2], axis=1)
    else:
        fn, expected = (lambda h, g: tf.stack([h * 2.0, g * g])), np.stack([a * 2, (a + 1) ** 2])
    check(keys, fn, [x, y], expected, np.float64)


@_settings(20)
@given(data=st.data())
def test_gather(keys, data):
    layout, dtype = data.draw(LAYOUTS, label="layout"), data.draw(DTYPES, label="dtype")
    shape = data.draw(shapes(layout, min_rank=2), label="shape")
    rank, packed = len(shape), packed_axis(layout, len(shape))
    axis = data.draw(st.sampled_from([a for a in range(rank) if a != packed]), label="axis")
    axis_arg = axis - rank if data.draw(st.booleans(), label="negative axis") else axis
    index = st.integers(0, shape[axis] - 1)
    indices = data.draw(st.one_of(index, st.lists(index, min_size=1, max_size=4),
                                  st.lists(st.lists(index, min_size=2, max_size=2), min_size=1, max_size=2)),
                        label="indices")
    api = data.draw(st.sampled_from(["tf.gather", "he_tf.gather"]), label="api")
    gather = tf.gather if api == "tf.gather" else he_tf.gather
    a = draw_array(data, shape, dtype)
    expected = np.take(f64(a), indices, axis=axis)
    p, then = _then_multiply(data, expected.shape, dtype)
    check(keys, lambda h: then(gather(h, indices, axis=axis_arg)), [encrypt(keys, a, layout)],
          expected * f64(p), dtype)


@pytest.mark.parametrize("layout", ["batch", "vector"])
def test_moving_the_packed_axis_raises(keys, layout):
    """concat / gather along the packed axis, or a reshape that merges or splits it: ValueError."""
    a = np.arange(48.0).reshape(4, 3, 4)
    x = encrypt(keys, a, layout)
    packed = packed_axis(layout, 3)
    raises_eager_and_traced(lambda h: tf.concat([h, h], axis=packed), [x], match="packed")
    raises_eager_and_traced(lambda h: he_tf.concat([h, h], axis=packed - 3), [x], match="packed")
    raises_eager_and_traced(lambda h: tf.gather(h, [0, 1], axis=packed), [x], match="packed")
    raises_eager_and_traced(lambda h: he_tf.gather(h, 1, axis=packed), [x], match="packed")
    merge = (12, 4) if layout == "batch" else (4, 12)
    split = (2, 2, 3, 4) if layout == "batch" else (4, 3, 2, 2)
    raises_eager_and_traced(lambda h: tf.reshape(h, merge), [x], match="packed")
    raises_eager_and_traced(lambda h: tf.reshape(h, split), [x], match="packed")
    # Only size-1 axes added around it: fine.
    check(keys, lambda h: tf.reshape(h, (1, 4, 3, 1, 4)), [x], a.reshape(1, 4, 3, 1, 4), np.float64)


# ---- regressions: cancellations, transparent ciphertexts, reshape -1, stack of one ------------------

A, B = np.arange(1.0, 7.0).reshape(3, 2), np.arange(2.0, 8.0).reshape(3, 2)
CANCELLING = {  # name: (fn of two HETensors, expected); their results' ciphertexts are transparent (c1 = 0)
    "x - x": (lambda x, y: tf.subtract(x, x), A - A),
    "(x + 1) - x": (lambda x, y: (x + 1.0) - x, np.ones_like(A)),
    "x*y - y*x": (lambda x, y: x * y - y * x, np.zeros_like(A)),
    "(x - x) + y": (lambda x, y: (x - x) + y, B),
    "sum(x - x, non-packed axis)": (lambda x, y: tf.reduce_sum(x - x, axis=1), np.zeros(3)),
}


@pytest.mark.parametrize("case", sorted(CANCELLING))
def test_differences_that_cancel(keys, case):
    fn, expected = CANCELLING[case]
    check(keys, fn, [encrypt(keys, A, "batch"), encrypt(keys, B, "batch")], expected, np.float64)


W0 = np.array([[1.0, 0.0], [2.0, 0.0]])  # a zero column
TRANSPARENT = {  # name: (layout, fn of two HETensors, expected)
    "(x - x) + 1": ("batch", lambda x, y: (x - x) + 1.0, np.ones_like(A)),
    "(x - x) * y": ("batch", lambda x, y: (x - x) * y, np.zeros_like(A)),
    "sum(x - x, packed axis)": ("batch", lambda x, y: tf.reduce_sum(x - x, axis=0), np.zeros(2)),
    "roll(x - x)": ("vector", lambda x, y: tf.roll(x - x, 1, axis=1), np.zeros_like(A)),
    "x * 0": ("batch", lambda x, y: x * 0, 0 * A),
    "x * 1e-38": ("batch", lambda x, y: x * 1e-38, 0 * A),
    "x * zeros": ("batch", lambda x, y: x * np.zeros((3, 2)), 0 * A),
    "polyval([0, 5], x)": ("batch", lambda x, y: tf.math.polyval([0.0, 5.0], x), np.full_like(A, 5.0)),
    "x @ w with a zero column": ("batch", lambda x, y: x @ W0, A @ W0),
    "x @ zeros (diagonal method)": ("vector", lambda x, y: x @ np.zeros((2, 3)), np.zeros((3, 3))),
}


@pytest.mark.parametrize("case", sorted(TRANSPARENT))
def test_results_with_transparent_ciphertexts(keys, case):
    layout, fn, expected = TRANSPARENT[case]
    check(keys, fn, [encrypt(keys, A, layout), encrypt(keys, B, layout)], expected, np.float64)


@pytest.mark.parametrize("api", ["tf.reshape", "he_tf.reshape"])
def test_reshape_with_minus_one(keys, api):
    reshape = tf.reshape if api == "tf.reshape" else he_tf.reshape
    a = np.arange(24.0).reshape(4, 3, 2)
    check(keys, lambda h: reshape(h, [4, -1]), [encrypt(keys, a, "batch")], a.reshape(4, 6), np.float64)


@pytest.mark.parametrize("axis", [0, -1])
def test_stack_of_one_tensor(keys, axis):
    a = np.arange(6.0).reshape(3, 2)
    check(keys, lambda h: tf.stack([h], axis=axis), [encrypt(keys, a, "batch")], np.stack([a], axis=axis),
          np.float64)

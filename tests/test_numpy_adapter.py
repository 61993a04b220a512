"""he_tf.numpy: NumPy's functions and operators on encrypted arrays equal NumPy's on the plaintext; the rest
are refused."""

import re

import numpy as np
import pytest

import he_tf
import he_tf.numpy as hnp

ATOL = 1e-4  # CKKS at the default parameters (scale 2^40) keeps about 1e-6 on these values; products of
#              values up to 2 and sums of a few of them stay well inside 1e-4
RNG = np.random.default_rng(12)
X = RNG.uniform(-2, 2, size=(4, 3))
Y = RNG.uniform(-2, 2, size=(4, 3))
W = RNG.uniform(-1, 1, size=(3, 2))
X3 = RNG.uniform(-2, 2, size=(4, 3, 2))
LAYOUTS = ("batch", "vector")


@pytest.fixture(scope="module")
def keys() -> he_tf.KeySet:
    # Power-of-two Galois keys: sums and matmuls over the packed axis rotate (default Params, depth 2).
    return he_tf.KeySet.generate(he_tf.Params())


def check(result, expected, keys):
    assert isinstance(result, hnp.EncryptedArray), type(result)
    assert result.shape == np.shape(expected)
    values = result.decrypt(keys.secret)
    assert values.dtype == np.float64 and values.shape == np.shape(expected)
    np.testing.assert_allclose(values, expected, atol=ATOL)


# --- elementwise: ufuncs and operators, encrypted / ndarray / scalar on either side -------------------------

BINARY = {
    "np.add": (np.add, lambda a, b: a + b),
    "np.subtract": (np.subtract, lambda a, b: a - b),
    "np.multiply": (np.multiply, lambda a, b: a * b),
}
OPERANDS = {  # (left, right), "x" for the encrypted X
    "enc-enc": ("x", "y"),
    "enc-ndarray": ("x", Y),
    "ndarray-enc": (Y, "x"),
    "enc-row": ("x", Y[0]),
    "row-enc": (Y[0], "x"),
    "enc-scalar": ("x", 1.5),
    "scalar-enc": (-0.75, "x"),
    "enc-npscalar": ("x", np.float64(1.5)),
    "npscalar-enc": (np.float64(-0.75), "x"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("operands", OPERANDS)
@pytest.mark.parametrize("function", BINARY)
def test_binary_ufuncs_and_operators(keys, layout, operands, function):
    x, y = hnp.encrypt(keys.public, X, layout), hnp.encrypt(keys.public, Y, layout)
    encrypted = {"x": x, "y": y}
    plain = {"x": X, "y": Y}
    left, right = OPERANDS[operands]
    ufunc, operator = BINARY[function]
    e_left, e_right = (encrypted.get(v, v) if isinstance(v, str) else v for v in (left, right))
    p_left, p_right = (plain.get(v, v) if isinstance(v, str) else v for v in (left, right))
    expected = ufunc(p_left, p_right)
    check(ufunc(e_left, e_right), expected, keys)
    check(operator(e_left, e_right), expected, keys)  # x + y, Y + x (ndarray's operator defers), 1.5 + x, ...


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unary_and_divide(keys, layout):
    x = hnp.encrypt(keys.public, X, layout)
    check(np.negative(x), -X, keys)
    check(-x, -X, keys)
    check(np.square(x), np.square(X), keys)
    check(np.divide(x, 4.0), X / 4.0, keys)
    check(x / Y[0], X / Y[0], keys)
    check(np.true_divide(x, np.float64(-2.0)), X / -2.0, keys)
    for by_encrypted in (lambda: 2.0 / x, lambda: Y / x, lambda: np.divide(Y, x), lambda: x / x):
        with pytest.raises(TypeError, match="divisor must be plaintext"):
            by_encrypted()


def test_operations_chain_and_results_stay_encrypted(keys):
    x = hnp.encrypt(keys.public, X)
    y = np.sum(np.square(x - 1.0) + 0.5 * Y, axis=0)  # depth 2: the square, the sum over the packed axis
    check(y, np.sum(np.square(X - 1.0) + 0.5 * Y, axis=0), keys)


def test_plaintext_operand_may_not_enlarge_the_encrypted_one(keys):
    x = hnp.encrypt(keys.public, X[0])
    with pytest.raises(ValueError, match="tile or broadcast the data before encrypting"):
        x + X


@pytest.mark.parametrize("layout", LAYOUTS)
def test_in_place_operators_and_out_write_into_the_encrypted_array(keys, layout):
    x, y = hnp.encrypt(keys.public, X, layout), hnp.encrypt(keys.public, Y, layout)
    alias = x
    x += 1.0
    x -= y
    x *= Y[0]
    assert x is alias  # as in NumPy: every name for the array sees the new values
    check(alias, (X + 1.0 - Y) * Y[0], keys)
    assert np.negative(y, out=y) is y
    check(y, -Y, keys)
    z = hnp.encrypt(keys.public, X, layout)
    z @= W @ W.T  # (3, 3)
    check(z, X @ W @ W.T, keys)
    with pytest.raises(ValueError, match="does not fit out= of shape"):
        z @= W


# --- matmul and dot -----------------------------------------------------------------------------------------

V3, V4 = RNG.uniform(-1, 1, size=3), RNG.uniform(-1, 1, size=4)
MATMULS = {  # (left, right), "x" for the encrypted X, "v" for an encrypted 1-D V3
    "enc2d @ plain2d": ("x", W),
    "plain2d @ enc2d": (W.T @ X.T, "x"),  # (2, 4) @ (4, 3)
    "enc2d @ plain1d": ("x", V3),
    "plain1d @ enc2d": (V4, "x"),
    "enc1d @ plain1d": ("v", V3),
    "plain1d @ enc1d": (V3, "v"),
    "enc1d @ plain2d": ("v", W),
}


def _operands(keys, layout, names):
    encrypted = {"x": (hnp.encrypt(keys.public, X, layout), X),
                 "v": (hnp.encrypt(keys.public, V3, layout), V3)}
    return [encrypted[n] if isinstance(n, str) else (n, n) for n in names]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", MATMULS)
def test_matmul_and_dot(keys, layout, case):
    (e_a, p_a), (e_b, p_b) = _operands(keys, layout, MATMULS[case])
    expected = p_a @ p_b
    check(e_a @ e_b, expected, keys)
    check(np.matmul(e_a, e_b), expected, keys)
    check(np.dot(e_a, e_b), np.dot(p_a, p_b), keys)


def test_matmul_of_a_higher_rank_encrypted_array(keys):
    x = hnp.encrypt(keys.public, X3.transpose(0, 2, 1))  # (4, 2, 3)
    check(x @ W, X3.transpose(0, 2, 1) @ W, keys)
    check(np.dot(x, W), np.dot(X3.transpose(0, 2, 1), W), keys)
    check(V3 @ hnp.encrypt(keys.public, X3), V3 @ X3, keys)  # (3,) @ (4, 3, 2): x's last two axes swapped


def test_dot_refusals(keys):
    x = hnp.encrypt(keys.public, X)
    with pytest.raises(ValueError, match="np.dot with a scalar.*np.multiply"):
        np.dot(x, 2.0)
    with pytest.raises(ValueError, match="more than 2 dimensions.*np.matmul"):
        np.dot(x, X3.transpose(1, 0, 2))
    with pytest.raises(TypeError, match="np.dot on encrypted arrays does not take out="):
        np.dot(x, W, out=np.zeros((4, 2)))
    with pytest.raises(TypeError, match="one operand must be plaintext"):
        x @ x.T


# --- sum and polyval ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (1,)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum(keys, layout, axis, keepdims):
    x = hnp.encrypt(keys.public, X, layout)
    expected = np.sum(X, axis=axis, keepdims=keepdims)
    check(np.sum(x, axis=axis, keepdims=keepdims), expected, keys)
    check(x.sum(axis=axis, keepdims=keepdims), expected, keys)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sum_of_three_axes_and_positional_axis(keys, layout):
    x = hnp.encrypt(keys.public, X3, layout)
    check(np.sum(x, (0, 2)), np.sum(X3, (0, 2)), keys)
    check(np.sum(x, 1, keepdims=True), np.sum(X3, 1, keepdims=True), keys)


def test_sum_refuses_other_options(keys):
    x = hnp.encrypt(keys.public, X)
    for options, name in (({"dtype": np.float32}, "dtype="), ({"initial": 1.0}, "initial="),
                          ({"where": X > 0}, "where="), ({"out": np.zeros(3)}, "out=")):
        with pytest.raises(TypeError, match=f"np.sum on encrypted arrays does not take {name}"):
            np.sum(x, axis=0, **options)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("coefficients", [[0.5, -1.0, 2.0], np.array([0.25, 1.0]), [3.0]])
def test_polyval(keys, layout, coefficients):
    x = hnp.encrypt(keys.public, X, layout)
    check(np.polyval(coefficients, x), np.polyval(coefficients, X), keys)


def test_polyval_needs_plaintext_coefficients(keys):
    x = hnp.encrypt(keys.public, X[0])
    with pytest.raises(TypeError, match="np.polyval on encrypted arrays needs plaintext coefficients"):
        np.polyval(x, 2.0)


# --- transpose, reshape, concatenate, stack -----------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_transpose(keys, layout):
    x = hnp.encrypt(keys.public, X3, layout)
    check(np.transpose(x), np.transpose(X3), keys)
    check(x.T, X3.T, keys)
    check(np.transpose(x, (1, 0, 2)), np.transpose(X3, (1, 0, 2)), keys)
    check(x.transpose(2, 0, 1), X3.transpose(2, 0, 1), keys)
    check(np.transpose(x, axes=[0, 2, 1]) @ W, np.transpose(X3, [0, 2, 1]) @ W, keys)


RESHAPES = {  # layout: (shapes that keep the packed axis whole, shapes that split or merge it)
    "batch": ([(4, 6), (4, 2, 3), (4, -1), (4, 6, 1)], [(2, 12), (24,), (8, 3)]),
    "vector": ([(12, 2), (2, 6, 2), (-1, 2), (3, 4, 1, 2)], [(4, 6), (24,), (6, 4)]),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reshape_keeps_the_packed_axis_whole(keys, layout):
    x = hnp.encrypt(keys.public, X3, layout)
    allowed, refused = RESHAPES[layout]
    for shape in allowed:
        check(np.reshape(x, shape), np.reshape(X3, shape), keys)
        check(x.reshape(*shape), X3.reshape(*shape), keys)
    for shape in refused:
        with pytest.raises(ValueError, match="packed into ciphertext slots"):
            np.reshape(x, shape)
    with pytest.raises(ValueError, match="order='C' only"):
        np.reshape(x, allowed[0], order="F")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_concatenate_and_stack(keys, layout):
    x, y = hnp.encrypt(keys.public, X, layout), hnp.encrypt(keys.public, Y, layout)
    free, packed = (1, 0) if layout == "batch" else (0, 1)
    check(np.concatenate([x, y], axis=free), np.concatenate([X, Y], axis=free), keys)
    check(np.concatenate((x, y, x), free), np.concatenate((X, Y, X), free), keys)
    with pytest.raises(ValueError, match="packed into ciphertext slots"):
        np.concatenate([x, y], axis=packed)
    with pytest.raises(ValueError, match="axis=None flattens"):
        np.concatenate([x, y], axis=None)
    for axis in (0, 1, 2, -1):
        check(np.stack([x, y], axis=axis), np.stack([X, Y], axis=axis), keys)
    check(np.stack([x]), np.stack([X]), keys)
    for mixed in (lambda: np.concatenate([x, Y], axis=free), lambda: np.stack([Y, x])):
        with pytest.raises(TypeError, match="of encrypted with plaintext arrays.*he_tf.numpy.encrypt"):
            mixed()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_take(keys, layout):
    x = hnp.encrypt(keys.public, X3, layout)
    free = (1, 2) if layout == "batch" else (0, 1)
    for axis in free:
        check(np.take(x, [1, 0, 1], axis=axis), np.take(X3, [1, 0, 1], axis=axis), keys)
        check(np.take(x, 1, axis=axis), np.take(X3, 1, axis=axis), keys)
    with pytest.raises(ValueError, match="packed into ciphertext slots"):
        np.take(x, [0], axis=x.packed_axis)
    with pytest.raises(ValueError, match="axis=None flattens"):
        np.take(x, [0])


# --- refusals: nothing else runs, nothing is decrypted silently ---------------------------------------------

REFUSED = {
    "np.sin": lambda x: np.sin(x),
    "np.exp": lambda x: np.exp(x),
    "np.maximum": lambda x: np.maximum(x, 0.0),
    "np.sort": lambda x: np.sort(x),
    "np.mean": lambda x: np.mean(x),
    "np.linalg.norm": lambda x: np.linalg.norm(x),
    "np.where": lambda x: np.where(X > 0, x, 0.0),
    "np.less": lambda x: x < 1.0,
    "np.equal": lambda x: x == x,
    "np.absolute": lambda x: abs(x),
    "np.power": lambda x: x**2,
    "np.positive": lambda x: +x,
    "np.add.reduce": lambda x: np.add.reduce(x),
    "np.multiply.outer": lambda x: np.multiply.outer(x, X),
    "np.asarray": lambda x: np.asarray(x),
    "np.array": lambda x: np.array(x),
    "np.add on encrypted arrays writes out= into an encrypted array only":
        lambda x: np.add(x, 1.0, out=np.empty((4, 3))),
    "np.multiply on encrypted arrays does not take where=": lambda x: np.multiply(x, 2.0, where=X > 0),
    "np.add on encrypted arrays does not take dtype=": lambda x: np.add(x, 1.0, dtype=np.float32),
}


@pytest.mark.parametrize("name", REFUSED)
def test_other_functions_are_refused_naming_them(keys, name):
    x = hnp.encrypt(keys.public, X)
    with pytest.raises(TypeError, match=re.escape(name)):
        REFUSED[name](x)


def test_refusal_says_what_is_supported(keys):
    with pytest.raises(TypeError) as refused:
        np.sin(hnp.encrypt(keys.public, X))
    assert all(b.function in str(refused.value) for b in hnp.BINDINGS)
    assert "np.polyval" in str(refused.value)


def test_no_silent_decryption(keys):
    x = hnp.encrypt(keys.public, X)
    for convert in (bool, float, list, lambda v: np.asarray(v, dtype=np.float64), lambda v: v + v.hetensor):
        with pytest.raises(TypeError):
            convert(x)


# --- API ----------------------------------------------------------------------------------------------------

def test_wrapping_shares_the_hetensor(keys):
    h = he_tf.encrypt(keys.public, X, layout="vector")
    x = hnp.asarray(h)
    assert x.hetensor is h
    assert (x + 1.0).hetensor is not h
    assert isinstance(hnp.encrypt(keys.public, X).hetensor, he_tf.HETensor)
    check(hnp.asarray(he_tf.add(h, h)), 2 * X, keys)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, (x * 2.0).hetensor).numpy(), 2 * X, atol=ATOL)
    for not_hetensor in (X, x):
        with pytest.raises(TypeError, match="wraps an he_tf.HETensor"):
            hnp.asarray(not_hetensor)


def test_numpy_code_traces_into_a_tf_function(keys):
    import tensorflow as tf

    @tf.function
    def score(h):  # the HETensor is symbolic here; the NumPy calls become he-tf ops in the graph
        return np.sum(hnp.asarray(h) @ W + 1.0, axis=0).hetensor

    h = he_tf.encrypt(keys.public, X)
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, score(h)).numpy(), np.sum(X @ W + 1.0, axis=0),
                               atol=ATOL)


def test_attributes_and_repr(keys):
    x = hnp.encrypt(keys.public, X3, layout="vector")
    assert (x.shape, x.ndim, x.size, x.dtype) == ((4, 3, 2), 3, 24, np.float64)
    assert (x.layout, x.packed_axis) == ("vector", 2)
    assert x.T.shape == (2, 3, 4) and x.T.packed_axis == 0
    assert repr(x) == ("EncryptedArray(shape=(4, 3, 2), dtype=float64, layout='vector', packed_axis=2, "
                       "level=2)")
    assert he_tf.numpy is hnp


def test_encrypt_takes_real_plaintext(keys):
    check(hnp.encrypt(keys.public, [[1, 2], [3, 4]]), [[1.0, 2.0], [3.0, 4.0]], keys)  # integers: as float64
    check(hnp.encrypt(keys.public, X, secret=keys.secret), X, keys)
    with pytest.raises(TypeError, match="real numbers"):
        hnp.encrypt(keys.public, np.array([1j]))
    with pytest.raises(TypeError, match="encrypted already"):
        hnp.encrypt(keys.public, hnp.encrypt(keys.public, X))
    with pytest.raises(ValueError, match="layout must be one of"):
        hnp.encrypt(keys.public, X, layout="rows")
    with pytest.raises(TypeError, match="PublicContext"):
        hnp.encrypt(keys.secret, X)


def test_bindings_route_every_function_to_its_op():
    functions = [b.function for b in hnp.BINDINGS]
    assert len(set(functions)) == len(functions)
    assert {"np.add", "np.subtract", "np.multiply", "np.negative", "np.square", "np.matmul", "np.dot",
            "np.sum", "np.polyval", "np.transpose", "np.reshape", "np.concatenate", "np.stack",
            "np.take"} <= set(functions)
    routes = {**hnp._UFUNCS, **hnp._FUNCTIONS}
    assert len(routes) == len(functions)
    for binding in hnp.BINDINGS:
        numpy_function = eval(binding.function)  # noqa: S307 ("np.add", ...)
        assert routes[numpy_function][0] is getattr(he_tf, binding.op)

"""he_tf.torch: every bound torch function against torch on the same plaintext, mixed operands, module
forwards on encrypted inputs, refusals naming the function, and the import guarantees."""

import copy
import importlib
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import he_tf
import he_tf.torch as ht
from he_tf import framework_table, optable
from he_tf.models.rotations import diagonal_matmul

# Decrypted results against torch's float64 result on the same plaintext. Fresh ciphertexts at scale 2^40 are
# within 1e-8; a product, a sum over the packed axis (rotations) or a matmul keeps well within 1e-5.
ATOL = 1e-5

RNG = np.random.default_rng(12)
X = torch.from_numpy(RNG.uniform(-2, 2, size=(5, 3)))       # float64
Y = torch.from_numpy(RNG.uniform(-2, 2, size=(5, 3)))
W32 = torch.from_numpy(RNG.uniform(-1, 1, size=(3, 4))).float().requires_grad_()  # a float32 parameter
B32 = torch.from_numpy(RNG.uniform(-1, 1, size=(4,))).float()
LEFT = torch.from_numpy(RNG.uniform(-1, 1, size=(2, 5)))


@pytest.fixture(scope="module")
def keys():
    # Power-of-two Galois keys: a sum over the packed axis (batch layout, dim 0) rotates.
    return he_tf.KeySet.generate(he_tf.Params())


@pytest.fixture(scope="module")
def enc(keys):
    return ht.encrypt(keys.public, X), ht.encrypt(keys.public, Y)


# function -> expressions in x, y (both encrypted, or both plaintext), w and b (a float32 weight with
# requires_grad and a bias; for torch's own float64 reference, their float64 values). Each binding has at
# least one; together they mix encrypted tensors with float64, float32 and requires_grad tensors and Python
# numbers, in both orders.
CASES = {
    "torch.add": ["torch.add(x, y)", "torch.add(x, Y.float())", "torch.add(X, y)", "torch.add(x, 2.5)",
                  "torch.add(x, y, alpha=2)", "torch.add(x, Y, alpha=-0.5)"],
    "torch.sub": ["torch.sub(x, y)", "torch.sub(Y, x)", "torch.sub(x, 1.0)", "torch.sub(x, y, alpha=3)"],
    "torch.subtract": ["torch.subtract(x, Y.float())"],
    "torch.mul": ["torch.mul(x, y)", "torch.mul(Y.float(), x)", "torch.mul(x, -3)",
                  "torch.mul(x, torch.tensor([1.0, 2.0, 3.0]))"],
    "torch.multiply": ["torch.multiply(x, y)"],
    "torch.div": ["torch.div(x, 4.0)", "torch.div(x, torch.tensor([1.0, 2.0, -4.0]))"],
    "torch.neg": ["torch.neg(x)"],
    "torch.negative": ["torch.negative(y)"],
    "torch.square": ["torch.square(x)"],
    "torch.pow": ["torch.pow(x, 2)", "torch.pow(y, 2.0)"],
    "torch.matmul": ["torch.matmul(x, w)", "torch.matmul(LEFT, x)", "torch.matmul(x, w[:, 0])"],
    "torch.mm": ["torch.mm(x, w)", "torch.mm(LEFT, x)"],
    "torch.nn.functional.linear": ["F.linear(x, w.t(), b)", "F.linear(x, w.t())"],
    "torch.sum": ["torch.sum(x)", "torch.sum(x, 0)", "torch.sum(x, 1)", "torch.sum(x, dim=1, keepdim=True)",
                  "torch.sum(x, (0, 1))", "torch.sum(x, 0, True)"],
    "torch.t": ["torch.t(x)", "torch.t(torch.sum(x, 1))"],
    "torch.reshape": ["torch.reshape(x, (5, 3, 1))", "torch.reshape(x, (5, 1, 3))",
                      "torch.reshape(x, shape=(5, -1))"],
    "torch.transpose": ["torch.transpose(x, 0, 1)", "torch.transpose(torch.reshape(x, (5, 3, 1)), -1, 1)"],
    "torch.permute": ["torch.permute(torch.reshape(x, (5, 1, 3)), (2, 0, 1))",
                      "torch.permute(x, dims=[1, 0])"],
    "torch.cat": ["torch.cat([x, y], 1)", "torch.cat((x, y), dim=-1)"],
    "torch.concat": ["torch.concat([x, y, x], 1)"],
    "torch.stack": ["torch.stack([x, y], 1)", "torch.stack((x, y, x))"],
    "torch.roll": ["torch.roll(x, 1, 1)", "torch.roll(x, (1, -2), (1, 0))",
                   "torch.roll(x, shifts=2, dims=0)"],
    "torch.index_select": ["torch.index_select(x, 1, torch.tensor([2, 0]))"],
    "he_tf.torch.polyval": ["ht.polyval([0.5, -1.0, 0.25], x)",
                            "ht.polyval(torch.tensor([0.1, 0.3, 1.0]), y)"],
}
METHODS = [
    "x + y", "x + Y", "Y + x", "2 + x", "x - Y", "Y - x", "1 - x", "x * y", "Y.float() * x", "0.5 * x",
    "x / 2", "-x", "x ** 2", "x @ w", "LEFT @ x",
    "x.add(y)", "Y.add(x)", "x.sub(Y, alpha=2)", "Y.sub(x)", "x.mul(Y)", "Y.mul(x)", "x.neg()", "x.square()",
    "x.pow(2)", "x.div(3.0)", "x.matmul(w)", "LEFT.matmul(x)", "x.sum()", "x.sum(1)",
    "x.sum(dim=0, keepdim=True)", "x.t()", "x.reshape(5, 3, 1)", "x.reshape((5, 1, 3))", "x.multiply(y)",
    "x.subtract(y)", "x.negative()", "x.transpose(0, 1)", "x.reshape(5, 1, 3).permute(1, 2, 0)",
    "x.permute((1, 0))", "x.roll(1, 1)", "x.index_select(1, torch.tensor([1]))", "x.mm(w)",
]


def _both(expression: str, enc) -> tuple:
    """(torch's float64 result on the plaintext, the result on the encrypted tensors)."""
    names = {"torch": torch, "F": F, "ht": ht, "X": X, "Y": Y, "LEFT": LEFT}
    plain = eval(expression, {**names, "x": X, "y": Y, "w": W32.double(), "b": B32.double()})  # noqa: S307
    return plain.detach().double(), eval(expression, {**names, "x": enc[0], "y": enc[1], "w": W32, "b": B32})


def test_every_binding_has_a_case_and_names_a_function_and_op():
    assert list(CASES) == [b.function for b in ht.BINDINGS]
    assert len({b.function for b in ht.BINDINGS}) == len(ht.BINDINGS)
    for binding in ht.BINDINGS:
        assert binding.op in optable.BY_NAME
    assert "| `torch.nn.functional.linear` | `matmul` |" in framework_table.markdown(ht.BINDINGS)


@pytest.mark.parametrize("expression", [e for cases in CASES.values() for e in cases])
def test_function_matches_torch(keys, enc, expression):
    expected, result = _both(expression, enc)
    assert isinstance(result, ht.EncryptedTensor)
    assert result.shape == expected.shape
    decrypted = result.decrypt(keys.secret)
    assert decrypted.dtype == torch.float64
    torch.testing.assert_close(decrypted, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("expression", METHODS)
def test_methods_and_operators_match_torch(keys, enc, expression):
    expected, result = _both(expression, enc)
    torch.testing.assert_close(result.decrypt(keys.secret), expected, atol=ATOL, rtol=0)


def test_in_place_operators_rebind_to_a_new_encrypted_tensor(keys, enc):
    x, _ = enc
    z = x
    z += Y
    z *= 2
    assert z is not x
    torch.testing.assert_close(z.decrypt(keys.secret), (X + Y) * 2, atol=ATOL, rtol=0)
    torch.testing.assert_close(x.decrypt(keys.secret), X, atol=ATOL, rtol=0)


def test_layouts_and_wrapping(keys):
    v = ht.encrypt(keys.public, X.float(), layout="vector")
    assert v.hetensor.layout == "vector" and v.hetensor.packed_axis == 1
    assert v.shape == torch.Size([5, 3]) and v.ndim == 2 and v.dim() == 2 and v.size(0) == 5
    assert v.dtype == torch.float64  # encrypted as float64
    torch.testing.assert_close((v.sum(1) + 1).decrypt(keys.secret), X.sum(1) + 1, atol=ATOL, rtol=0)
    h = he_tf.encrypt(keys.public, X.numpy())
    wrapped = ht.as_encrypted(h)
    assert wrapped.hetensor is h  # no copy
    assert "EncryptedTensor(HETensor(shape=(5, 3)" in repr(wrapped)
    with pytest.raises(TypeError, match="wraps an he_tf.HETensor"):
        ht.as_encrypted(X)
    with pytest.raises(TypeError, match="floating-point"):
        ht.encrypt(keys.public, torch.ones(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating-point"):
        ht.encrypt(keys.public, np.ones(3, dtype=np.int32))


@pytest.mark.parametrize("call, name", [
    (lambda x: torch.exp(x), "torch.exp"),
    (lambda x: torch.relu(x), "torch.relu"),
    (lambda x: F.relu(x), "torch.nn.functional.relu"),
    (lambda x: torch.sigmoid(x), "torch.sigmoid"),
    (lambda x: torch.flip(x, (0,)), "torch.flip"),
    (lambda x: torch.mean(x), "torch.mean"),
    (lambda x: torch.clamp(x, 0, 1), "torch.clamp"),
    (lambda x: x.exp(), "torch.Tensor.exp"),
    (lambda x: x.numpy(), "torch.Tensor.numpy"),
    (lambda x: x.detach(), "torch.Tensor.detach"),
    (lambda x: x.T, "torch.Tensor.T"),
    (lambda x: x < 0, "torch.Tensor.__lt__"),
    (lambda x: x == X, "torch.Tensor.__eq__"),
    (lambda x: abs(x), "torch.Tensor.__abs__"),
    (lambda x: x[0], "torch.Tensor.__getitem__"),
    (lambda x: list(x), "torch.Tensor.__iter__"),
    (lambda x: len(x), "torch.Tensor.__len__"),
    (lambda x: float(x), "torch.Tensor.__float__"),
    (lambda x: np.asarray(x), "torch.Tensor.__array__"),
    (lambda x: 2 ** x, "torch.Tensor.__rpow__"),
    (lambda x: 1 / x, "torch.Tensor.__rtruediv__"),
    (lambda x: bool(x), "truth value of an encrypted tensor"),
    (lambda x: x ** 3, "torch.pow is supported on encrypted tensors for exponent 2 only"),
    (lambda x: torch.add(x, X, out=X), r"torch.add on encrypted tensors takes \(input, other, \*, alpha=1\)"),
    (lambda x: torch.sum(x, 0, dtype=torch.float32), "torch.sum on encrypted tensors takes"),
    (lambda x: torch.div(x, 2, rounding_mode="floor"), "rounding_mode='floor' is not supported"),
    (lambda x: torch.cat([x, Y], 1), r"torch.cat of encrypted tensors with plaintext ones \(Tensor\)"),
    (lambda x: torch.stack([Y, x]), r"torch.stack of encrypted tensors with plaintext ones \(Tensor\)"),
    (lambda x: x @ x.t(), "matmul of two encrypted tensors is not supported"),
])
def test_other_functions_are_refused_naming_them(enc, call, name):
    with pytest.raises(TypeError, match=name):
        call(enc[0])


def test_refusal_says_what_is_supported(enc):
    with pytest.raises(TypeError) as info:
        torch.tanh(enc[0])
    message = str(info.value)
    assert all(b.function in message for b in ht.BINDINGS)
    assert "decrypt first" in message and "PolynomialActivation" in message


def test_shape_errors_come_from_he_tf(enc):
    with pytest.raises(ValueError, match="would split or merge axis 0"):
        enc[0].reshape(15)
    with pytest.raises(ValueError, match="cannot multiply"):
        enc[0] @ torch.ones(4, 2)
    with pytest.raises(ValueError, match="torch.roll without dims"):
        torch.roll(enc[0], 1)
    with pytest.raises(ValueError, match="packed into ciphertext slots"):
        torch.index_select(enc[0], 0, torch.tensor([0]))
    with pytest.raises(ValueError, match="torch.t expects a tensor with at most 2 dimensions"):
        torch.t(enc[0].reshape(5, 3, 1))


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data
    x = (x - x.mean(0)) / x.std(0)
    return torch.from_numpy(x[::5])  # 114 samples, standardized


@pytest.fixture(scope="module")
def deep_keys():
    # Depth 3 (Linear, square, Linear), and the rotations of a Linear(4, 3) on vector-layout inputs only.
    params = he_tf.Params.for_depth(3)
    return he_tf.KeySet.generate(params, rotations=diagonal_matmul(4, 3, params.slot_count))


def test_sequential_forward_on_encrypted_breast_cancer(deep_keys, cancer):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(30, 8), ht.Square(), torch.nn.Linear(8, 1))
    x_enc = ht.encrypt(deep_keys.public, cancer)
    result = model(x_enc)
    assert isinstance(result, ht.EncryptedTensor) and result.shape == (114, 1)
    expected = copy.deepcopy(model).double()(cancer).detach()
    assert expected.std() > 0.1  # the comparison is not on near-constant values
    torch.testing.assert_close(result.decrypt(deep_keys.secret), expected, atol=1e-4, rtol=0)
    # float32 forward agrees as closely as float32 allows
    torch.testing.assert_close(result.decrypt(deep_keys.secret), model(cancer.float()).double().detach(),
                               atol=1e-3, rtol=1e-4)


class Polynomial(torch.nn.Module):
    def forward(self, x):
        return 0.5 * x * x + x - 0.25


class Squared(torch.nn.Module):
    def forward(self, x):
        return x * x


@pytest.mark.parametrize("activation", [Squared(), Polynomial(), ht.PolynomialActivation([0.5, 1.0, -0.25])],
                         ids=["x*x", "polynomial", "PolynomialActivation"])
@pytest.mark.parametrize("layout", ["batch", "vector"])
def test_module_with_polynomial_activation(deep_keys, activation, layout):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), activation)
    x = torch.from_numpy(RNG.normal(size=(6, 4)))
    x_enc = ht.encrypt(deep_keys.public, x, layout=layout)
    expected = copy.deepcopy(model).double()(x).detach()
    torch.testing.assert_close(model(x_enc).decrypt(deep_keys.secret), expected, atol=ATOL, rtol=0)


def test_polynomial_activation_levels_and_plaintext(deep_keys):
    # One he_tf.polyval: degree 3 takes ceil(log2 3) + 1 = 3 levels (Horner's rule in products would take 4).
    act = ht.PolynomialActivation([0.1, 0.0, 0.3, 1.0])
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    y = act(ht.encrypt(deep_keys.public, x))
    assert y.hetensor.level == deep_keys.public.params.depth - 3
    torch.testing.assert_close(y.decrypt(deep_keys.secret), 0.1 * x**3 + 0.3 * x + 1, atol=ATOL, rtol=0)
    torch.testing.assert_close(act(x.float()), (0.1 * x**3 + 0.3 * x + 1).float())
    assert act(x.float()).dtype == torch.float32 and "coeffs" in act.state_dict()
    with pytest.raises(ValueError, match="degree >= 1"):
        ht.PolynomialActivation([1.0])
    with pytest.raises(ValueError, match="finite"):
        ht.PolynomialActivation([1.0, float("nan")])


def test_module_with_unsupported_layer_is_refused(enc):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    with pytest.raises(TypeError, match="torch.nn.functional.relu is not supported on encrypted tensors"):
        model(enc[0])


def test_import_he_tf_does_not_import_torch():
    code = "import sys, he_tf, he_tf.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_torch_the_import_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "he_tf.torch")
    monkeypatch.delitem(sys.modules, "he_tf.models.torch_import", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'he-tf\[torch\]'") as info:
        importlib.import_module("he_tf.torch")
    assert info.value.name == "torch"
    import he_tf.models as hm

    with pytest.raises(ModuleNotFoundError, match=r"from_torch needs PyTorch: pip install 'he-tf\[torch\]'"):
        hm.from_torch  # noqa: B018

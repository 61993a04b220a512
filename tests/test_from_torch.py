"""he_tf.models.from_torch: a logistic regression trained with torch served encrypted (labels identical to
plaintext, logits and polynomial output, both layouts), hidden polynomial layers, folding, refusals."""

import copy

import numpy as np
import pytest
import torch

import he_tf.models as hm
import he_tf.torch as ht
from he_tf.models import examples
from he_tf.models.outputs import sigmoid, softmax


@pytest.fixture(scope="module")
def cancer():
    """Breast cancer, standardized with the training split's statistics."""
    data = examples.load("breast_cancer")
    mean, std = data.x_train.mean(0), data.x_train.std(0)
    return (data.x_train - mean) / std, data.y_train, (data.x_test - mean) / std


@pytest.fixture(scope="module")
def logistic(cancer):
    """Logistic regression trained with torch: 300 steps of Adam on the standardized training set."""
    x, y, _ = cancer
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny problem: 0.2 ms a step on one thread, far slower on several under load
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(30, 1), torch.nn.Sigmoid())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    inputs, targets = torch.from_numpy(x).float(), torch.from_numpy(y).float()[:, None]
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(model(inputs), targets)
        loss = loss + 1e-3 * model[0].weight.square().sum()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    assert ((model(inputs) > 0.5).float() == targets).float().mean() > 0.97  # it learned
    return model.eval()


def torch_outputs(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return copy.deepcopy(model).double()(torch.from_numpy(x)).numpy()


def serve(model: hm.EncryptedModel, x: np.ndarray) -> hm.Prediction:
    """One request through a fresh client and a server that only gets the public context's bytes."""
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.send_public_context(), model)
    return client.decrypt(server.handle(client.encrypt(x)))


@pytest.mark.parametrize("layout", ["batch", "vector"])
@pytest.mark.parametrize("output", ["logits", "polynomial"])
def test_logistic_regression_labels_identical_to_plaintext(cancer, logistic, output, layout):
    x_train, _, x_test = cancer
    x_test = x_test if layout == "batch" else x_test[:30]  # vector layout: a ciphertext per sample
    model = hm.from_torch(logistic, output=output, layout=layout, data=x_train)
    assert model.activation == "sigmoid" and model.output == output and model.layout == layout
    assert model.depth == (1 if output == "logits" else 1 + 3)
    plain = torch_outputs(logistic, x_test)
    logits = model.logits_plain(x_test)
    np.testing.assert_allclose(sigmoid(logits), plain, atol=1e-6)  # the import computes what torch does

    prediction = serve(model, x_test)
    assert prediction.raw.shape == (len(x_test), 1)
    np.testing.assert_array_equal(prediction.labels(), (plain[:, 0] > 0.5).astype(int))
    np.testing.assert_allclose(prediction.raw, model.predict_plain(x_test), atol=1e-3)
    if output == "logits":
        np.testing.assert_allclose(prediction.outputs, plain, atol=1e-4)
    else:  # the server's sigmoid polynomial: outputs within its fit's error of the sigmoid
        assert np.max(np.abs(prediction.outputs - plain)) <= model.approximation_error + 1e-3


@pytest.mark.parametrize("layout", ["batch", "vector"])
@pytest.mark.parametrize("activation", ["square", "polynomial"])
def test_hidden_layer_with_polynomial_activation(layout, activation):
    torch.manual_seed(2)
    act = ht.Square() if activation == "square" else ht.PolynomialActivation([0.1, 0.5, 0.2])
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), act, torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
    model = hm.from_torch(net, layout=layout)
    assert model.depth == 1 + (1 if activation == "square" else 2) + 1
    assert (model.activation, model.n_outputs) == ("softmax", 3)
    x = np.random.default_rng(3).normal(size=(5, 6))
    np.testing.assert_allclose(softmax(model.predict_plain(x)), torch_outputs(net, x), atol=1e-9)
    prediction = serve(model, x)
    np.testing.assert_allclose(prediction.raw, model.predict_plain(x), atol=1e-4)
    np.testing.assert_array_equal(prediction.labels(), np.argmax(torch_outputs(net, x), axis=1))


def test_batch_norm_dropout_identity_and_nested_sequentials_fold_into_one_dense():
    torch.manual_seed(4)
    norm = torch.nn.BatchNorm1d(4)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2), norm.bias.normal_()
        norm.running_mean.normal_(), norm.running_var.uniform_(1, 2)
    net = torch.nn.Sequential(
        torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Dropout(0.5)),
        norm, torch.nn.Identity(),
        torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(4, 2, bias=False))),
    ).eval()
    model = hm.from_torch(net)
    assert len(model.steps) == 1 and model.depth == 1 and model.activation == "linear"
    x = np.random.default_rng(5).normal(size=(7, 5))
    np.testing.assert_allclose(model.predict_plain(x), torch_outputs(net, x), atol=1e-9)
    np.testing.assert_allclose(serve(model, x).outputs, torch_outputs(net, x), atol=1e-4)
    affine_free = torch.nn.Sequential(torch.nn.BatchNorm1d(3, affine=False).eval(), torch.nn.Linear(3, 1))
    x = np.random.default_rng(6).normal(size=(4, 3))
    np.testing.assert_allclose(hm.from_torch(affine_free).predict_plain(x), torch_outputs(affine_free, x),
                               atol=1e-9)


def test_single_linear_and_options_pass_through(cancer, logistic):
    linear = hm.from_torch(logistic[0], layout="vector")
    assert linear.activation == "linear" and linear.layout == "vector" and linear.name == "Linear"
    x_train, _, _ = cancer
    model = hm.from_torch(logistic, output="polynomial", input_range=(-10, 10), degree=5)
    assert model.input_range == (-10.0, 10.0) and model.depth == 1 + 4
    bounded = hm.from_torch(logistic, feature_range=(x_train.min(0), x_train.max(0)), precision_bits=20)
    assert bounded.feature_range is not None and bounded.precision_bits == 20
    assert hm.from_torch(logistic, params=bounded.params).params == bounded.params


class Custom(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, x):
        return self.linear(x) * 2


class Chain(torch.nn.Sequential):
    def forward(self, x):
        return super().forward(x) + 1


class MyLinear(torch.nn.Linear):
    pass


def test_subclasses_keeping_torch_forward_are_imported():
    torch.manual_seed(7)
    net = torch.nn.Sequential(MyLinear(3, 2), torch.nn.Sequential(torch.nn.Dropout(0.1)))
    x = np.random.default_rng(8).normal(size=(4, 3))
    np.testing.assert_allclose(hm.from_torch(net.eval()).predict_plain(x), torch_outputs(net, x), atol=1e-9)


@pytest.mark.parametrize("net, message", [
    (torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)),
     r"module '1' \(ReLU\) is not a polynomial.*he_tf.torch.Square or he_tf.torch.PolynomialActivation"),
    (torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Sequential(torch.nn.Tanh())),
     r"module '1.0' \(Tanh\) is not a polynomial"),
    (torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1)),
     "applies sigmoid before its last module"),
    (torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)),
     r"module '1' \(BatchNorm1d\) is in training mode.*model.eval\(\)"),
    (torch.nn.Sequential(torch.nn.BatchNorm1d(2, track_running_stats=False).eval()),
     "keeps no running statistics"),
    (torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3)),
     r"module '0' \(Conv1d\) cannot run on encrypted inputs; encrypted inference runs Linear, BatchNorm1d"),
    (torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=0)),
     r"module '1' \(Softmax\) is over dim 0"),
    (torch.nn.Sequential(Custom()),
     r"module '0' \(Custom\) defines its own forward.*module\(he_tf.torch.encrypt"),
    (Custom(), r"module 'the model' \(Custom\) defines its own forward"),
    (torch.nn.Sequential(Chain(torch.nn.Linear(3, 1))), r"module '0' \(Chain\) defines its own forward"),
    (torch.nn.Sequential(ht.Square(), torch.nn.Linear(3, 1)), "has no Linear .* before its first activation"),
    (torch.nn.Sequential(), "has no Linear"),
])
def test_unsupported_modules_are_refused_naming_them(net, message):
    with pytest.raises(ValueError, match=message):
        hm.from_torch(net)


def test_not_a_module_is_a_type_error(logistic):
    with pytest.raises(TypeError, match="from_torch takes a torch.nn.Module, got OrderedDict"):
        hm.from_torch(logistic.state_dict())


def test_softmax_polynomial_output_is_refused():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=-1))
    with pytest.raises(ValueError, match="cannot evaluate softmax on the server"):
        hm.from_torch(net, output="polynomial", input_range=(-4, 4))

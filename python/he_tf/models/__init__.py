"""Encrypted inference for linear and logistic regression and polynomial networks, dense or convolutional.

A model owner serves predictions on data it never sees::

    import he_tf.models as hm

    model = hm.from_keras(keras_model)                   # or from_torch / from_sklearn / from_weights
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.public_context, model)      # no secret key on the server
    prediction = client.decrypt(server.handle(client.encrypt(x)))
    prediction.outputs, prediction.labels()

``model.predict(x_enc)`` also runs directly on an HETensor inside TensorFlow.
``from_keras(model, mode="hybrid")`` runs an unmodified ReLU network (ReLU and max pooling exactly on
secret shares, affine layers under CKKS) as a :class:`HybridModel` between client, server and dealer.
See docs/tutorial-inference.md and, for convolutional networks on images, docs/tutorial-networks.md.
``fit_private`` trains linear and logistic regression on secret shares of several owners' data
(docs/tutorial-training.md). ``model.save(path)`` and ``load(path)`` keep a model on disk;
``python -m he_tf serve PATH`` serves it over the network to a :class:`RemoteClient` (docs/serving.md).
"""

from he_tf.models.activations import PolynomialActivation
from he_tf.models.artifact import ModelFormatError, load
from he_tf.models.hybrid import HybridModel
from he_tf.models.keras_import import from_keras
from he_tf.models.model import (
    OUTPUT_MODES,
    EncryptedModel,
    KeyRequirements,
    Magnitude,
    from_steps,
    from_weights,
)
from he_tf.models.outputs import Prediction
from he_tf.models.serving import Client, ClientTiming, Server, ServerTiming, Traffic
from he_tf.models.sklearn_import import from_sklearn
from he_tf.models.steps import Dense, Polynomial, Square
from he_tf.models.training import PrivateFit, fit_private
from he_tf.models.wire import WireFormatError

__all__ = [
    "OUTPUT_MODES", "Client", "ClientTiming", "Dense", "EncryptedModel", "HybridModel", "KeyRequirements", "Magnitude",
    "ModelFormatError", "Polynomial", "PolynomialActivation", "Prediction", "PrivateFit", "RemoteClient",
    "Server", "ServerTiming", "Square", "Traffic", "WireFormatError", "fit_private", "from_keras",
    "from_sklearn", "from_steps", "from_torch", "from_weights", "load",
]


def __getattr__(name: str):
    # The network client needs gRPC (the "serving" extra): imported on first use only.
    if name == "RemoteClient":
        try:
            from he_tf.serving.client import RemoteClient
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError(f"RemoteClient needs {e.name}: pip install 'he-tf[serving]'") from e
        return RemoteClient
    # from_torch needs PyTorch (the "torch" extra): imported on first use only.
    if name == "from_torch":
        try:
            from he_tf.models.torch_import import from_torch
        except ModuleNotFoundError as e:
            if e.name != "torch":
                raise
            raise ModuleNotFoundError("from_torch needs PyTorch: pip install 'he-tf[torch]'",
                                      name="torch") from e
        return from_torch
    raise AttributeError(f"module 'he_tf.models' has no attribute {name!r}")

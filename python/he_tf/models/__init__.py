"""Encrypted inference for linear and logistic regression (and small polynomial networks).

A model owner serves predictions on data it never sees::

    import he_tf.models as hm

    model = hm.from_keras(keras_model)                   # or from_sklearn / from_weights
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.public_context, model)      # no secret key on the server
    prediction = client.decrypt(server.handle(client.encrypt(x)))
    prediction.outputs, prediction.labels()

``model.predict(x_enc)`` also runs directly on an HETensor inside TensorFlow.
See docs/tutorial-inference.md.
"""

from he_tf.models.activations import PolynomialActivation
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
from he_tf.models.wire import WireFormatError

__all__ = [
    "OUTPUT_MODES", "Client", "Dense", "EncryptedModel", "KeyRequirements", "Magnitude", "Polynomial",
    "ClientTiming", "PolynomialActivation", "Prediction", "Server", "ServerTiming", "Square", "Traffic", "WireFormatError",
    "from_keras", "from_sklearn", "from_steps", "from_weights",
]

"""MPC-style protocols: players, private inputs and outputs, HE and secret sharing in one computation.

>>> import he_tf
>>> he_tf.set_config(he_tf.LocalConfig(["client", "server"]))
>>> with he_tf.protocol.CKKS(key_owner="client", evaluator="server"):
...     x = he_tf.define_private_input("client", lambda: [[1.0, 2.0]])
...     y = he_tf.define_output("client", None, x * 2.0)
"""

from he_tf.protocol.players import ClusterConfig, Config, LocalConfig, UnknownPlayerError, get_config, set_config
from he_tf.protocol.base import (
    CONTRACT_VERSION, PrivateTensor, Protocol, convert, define_output, define_private_input, define_private_variable,
    get_protocol, protocol_of, register_conversion, set_protocol,
)
from he_tf.protocol.discovery import PluginError, ProtocolEntry, available, create
from he_tf.protocol.transcript import Transcript, recording
from he_tf.protocol.ckks import CKKS
from he_tf.protocol.secret_sharing import SecretSharing, SharedTensor
from he_tf.protocol import conversions  # noqa: E402,F401  (registers CKKS <-> SecretSharing)

__all__ = [
    "CKKS", "CONTRACT_VERSION", "ClusterConfig", "PluginError", "PrivateTensor", "ProtocolEntry", "SecretSharing",
    "SharedTensor", "available", "create",
    "Config", "LocalConfig", "Protocol", "Transcript", "UnknownPlayerError", "convert", "define_output",
    "define_private_input", "define_private_variable", "get_config", "get_protocol", "protocol_of", "recording",
    "register_conversion", "set_config", "set_protocol",
]

"""Remote execution with pointers: data stays on its player, ops run there, values return only as allowed.

>>> import he_tf, tensorflow as tf
>>> he_tf.set_config(he_tf.LocalConfig(["client", "alice"], local_player="client"))
>>> ptr = he_tf.remote.send([[1.0, 2.0]], "alice")   # a Pointer owned by the client, on alice's device
>>> y = tf.reduce_sum(ptr @ [[3.0], [4.0]]) + 1.0     # runs on alice's device: a Pointer
>>> y.get()                                           # the client owns it: back here (12.0)

Who "I" am: the installed config's ``local_player``, the player this process is (``whoami()``). What it
sends it owns; what a player makes on its own device (:func:`define_input`) that player owns. A value
computed from several owners' data is owned by all of them. A player may receive a value (``get``,
``move``) when every owner allows it: itself, and whom it granted (``ptr.grant("bob")``); else
``PermissionError``. Ops mixing pointers on different players are refused (:class:`MixedLocationsError`)
until one is moved. :func:`fit` trains a Keras model where the data is and brings back only the
weights. Every transfer is a ``he_tf.protocol.transcript`` send.

Trust model: this is a policy of the process that holds the pointers over a cooperative runtime, not
a security boundary. Every check runs in this process; the players' TensorFlow servers enforce
nothing. A player's server runs whatever op reaches its port, unauthenticated and unencrypted
(``he_tf.protocol.players.EXPOSURE``, printed by ``serve-player``): its location sees every value it
holds, and any process that reaches the port (this one included, e.g. with a plain
``tf.identity`` under another device) can read any tensor there, run code as the server's user and
move data anywhere, whatever the policy says. Over TensorFlow's gRPC runtime the values travel in
the clear. The policy keeps honest code from moving data where its owners did not allow; against a
dishonest participant use the protocols (``he_tf.protocol.CKKS``, ``SecretSharing``), whose outputs
are all another player learns, and run the servers in a private network
(``serve-player --private-network``). See docs/tutorial-remote.md.
"""

from he_tf.remote.policy import Policy
from he_tf.remote.pointer import (
    MixedLocationsError, Pointer, RemoteValue, apply, define_input, define_private_input, send, whoami,
)
from he_tf.remote.models import ModelPointer, fit, train
from he_tf.remote.loopback import LoopbackCluster

__all__ = [
    "LoopbackCluster", "MixedLocationsError", "ModelPointer", "Pointer", "Policy", "RemoteValue", "apply",
    "define_input", "define_private_input", "fit", "send", "train", "whoami",
]

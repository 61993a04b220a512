"""Keras models where the data is: a model's weights sent to a player, trained there, and brought back.

``send(model, player)`` clones the model on the player's device and sends it the weights
(:class:`ModelPointer`); :func:`train` runs the training loop there on pointers to that player's data,
so only the loop's description and its per-epoch losses' handle cross; ``ModelPointer.get()`` brings
the weights back into the local model. :func:`fit` is the three in one.

The loop is Keras's own ``fit`` step (``compute_loss``, the gradient tape, ``optimizer.apply``) over
batches in order or shuffled by a seed, one ``tf.function`` call per epoch on the data's player: with
``shuffle=False`` it gives the weights ``model.fit(x, y, shuffle=False)`` gives. The optimizer is a fresh
one of the model's optimizer's configuration (its state, e.g. momentum, is not sent).
"""

from __future__ import annotations

import sys
from typing import Iterable, Optional

import tensorflow as tf

from he_tf.protocol import transcript
from he_tf.remote.pointer import (
    MixedLocationsError, Pointer, RemoteValue, _apply, _check_players, _device, _local_tensor, _origin,
    register_sender, whoami,
)
from he_tf.remote.policy import Policy


def _is_keras_model(value) -> bool:
    keras = sys.modules.get("keras")  # not imported for the check: a Keras model means keras is loaded
    return keras is not None and isinstance(value, keras.Model)


class ModelPointer(RemoteValue):
    """A Keras model's copy on player ``location``'s device (its variables there), and the local model
    its weights come back to.

    Calling it on a pointer predicts there (``model_ptr(x_ptr)``: a pointer). :attr:`weights` are
    pointers to the current weights (read there); :meth:`get` brings them back.
    """

    def __init__(self, model, replica, location: str, policy: Policy, label: str):
        super().__init__(location, policy, label)
        self._model, self._replica = model, replica
        self._epoch_functions: dict[int, tf.types.experimental.GenericFunction] = {}
        self._fresh_optimizer: Optional[list] = None  # its optimizer's variables as built, on the location

    @property
    def weights(self) -> list[Pointer]:
        """Pointers to the weights, in ``model.weights`` order, with the model pointer's policy."""
        with tf.device(_device(self._location)):
            return [Pointer(tf.identity(w.value), self._location, self._policy, w.path)
                    for w in self._replica.weights]

    def assign(self, model=None, *, readers: Iterable[str] = ()) -> "ModelPointer":
        """Sends `model`'s weights (default: the model this pointer was made from) into this copy, and puts
        its optimizer back as it was built: the copy then holds this process's values only, and its
        policy is this process's own again (with `readers`). Cheaper than a new ``send``: the traced
        training function is reused. Returns the pointer.

        Raises
        ------
        TypeError
            If `model`'s weights do not have the copy's shapes.
        """
        me = whoami()
        model = self._model if model is None else model
        if [tuple(w.shape) for w in model.weights] != [tuple(w.shape) for w in self._replica.weights]:
            raise TypeError(f"model {model.name!r} does not have the weights of {self._label!r}")
        _send_weights(model, self._replica, self._location, label=None)
        if self._fresh_optimizer is not None:  # trained before: its optimizer's state goes
            with tf.device(_device(self._location)):
                for variable, fresh in zip(self._replica.optimizer.variables, self._fresh_optimizer):
                    variable.assign(fresh)
        self._model = model
        self._policy = Policy.owned_by(me, _check_players(readers))
        return self

    def __call__(self, x: Pointer) -> Pointer:
        """The model's predictions on `x`, computed where `x` and the model are."""
        return _apply(lambda v: self._replica(v, training=False), "predict", (x,), {}, holders=(self,))

    def get(self):
        """Brings the weights back into the local model and returns it.

        Raises
        ------
        PermissionError
            Unless every owner allows this process's player: after training on another player's
            data, that player must have allowed it.
        """
        me = whoami()
        self._check_receiver(me, "get")
        with tf.device(_device(self._location)):
            values = [w.value.read_value() for w in self._replica.weights]
        for local, source, value in zip(self._model.weights, self._replica.weights, values):
            received = transcript.send(value, to=me, sender=self._location, kind="plaintext",
                                       label=source.path, origin=_origin(self._policy))
            local.assign(received)
        return self._model

    def __repr__(self) -> str:
        return (f"<ModelPointer {self._label!r} on {self._location!r}: {len(self._replica.weights)} weights; "
                f"owners {sorted(self.owners)}, readers {sorted(self.readers)}>")


def send_model(model, to: str, *, readers: Iterable[str] = (), label: Optional[str] = None) -> ModelPointer:
    """The model cloned on `to`'s device, its weights sent there (one transcript send per weight)."""
    import keras

    me = whoami()
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built: give it a keras.Input (or call model.build) "
                         "before sending it")
    with tf.device(_device(to)):
        try:
            replica = keras.models.clone_model(model)
        except (ValueError, TypeError, NotImplementedError) as e:
            raise TypeError(f"cannot send model {model.name!r}: he_tf.remote sends Sequential and functional "
                            f"Keras models (keras.models.clone_model: {e})") from None
    if [tuple(w.shape) for w in replica.weights] != [tuple(w.shape) for w in model.weights]:
        raise TypeError(f"cannot send model {model.name!r}: its clone's weights differ from its own (a model "
                        "whose layers make weights on first call needs a keras.Input)")
    _send_weights(model, replica, to, label)
    return ModelPointer(model, replica, to, Policy.owned_by(me, _check_players(readers)), label or model.name)


def _send_weights(model, replica, to: str, label: Optional[str]) -> None:
    """`model`'s weights into `replica`'s variables on `to`: one transcript send per weight."""
    me = whoami()
    for target, source in zip(replica.weights, model.weights):
        moved = transcript.send(_local_tensor(source.value, "send"), to=to, sender=me, kind="plaintext",
                                label=source.path if label is None else f"{label}: {source.path}", origin=me)
        with tf.device(_device(to)):
            target.assign(moved)


def _positive(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _epoch_function(replica, batch_size: int):
    """One epoch of Keras's training step over `order`'s batches: the examples' mean loss."""
    import keras

    floatx = keras.backend.floatx()

    @tf.function
    def epoch(x, y, order):
        if x.dtype.is_floating:
            x = tf.cast(x, floatx)
        if y.dtype.is_floating:
            y = tf.cast(y, floatx)
        n = tf.shape(order)[0]
        total = tf.constant(0.0, tf.float32)
        for start in tf.range(0, n, batch_size):
            batch = order[start:start + batch_size]
            xb, yb = tf.gather(x, batch), tf.gather(y, batch)
            with tf.GradientTape() as tape:
                loss = replica.compute_loss(x=xb, y=yb, y_pred=replica(xb, training=True))
            gradients = tape.gradient(loss, replica.trainable_variables)
            replica.optimizer.apply(gradients, replica.trainable_variables)
            total += tf.cast(loss, tf.float32) * tf.cast(tf.shape(batch)[0], tf.float32)
        return total / tf.cast(n, tf.float32)

    return epoch


def train(model: ModelPointer, x: Pointer, y: Pointer, *, epochs: int = 1, batch_size: int = 32,
          shuffle: bool = True, seed: int = 0) -> Pointer:
    """Trains the model pointer where it and the data are; returns a pointer to the per-epoch mean losses.

    The weights stay there; the model pointer's policy joins the data's (the weights now carry it).
    Batches follow a permutation drawn from (`seed`, epoch) on the data's player, or the data's order
    with ``shuffle=False``.

    Raises
    ------
    TypeError
        If `model` is not a ModelPointer (``he_tf.remote.send(model, player)``) or `x`, `y` are not
        pointers; if the local model was not compiled.
    MixedLocationsError
        If the model and the data are on different players.
    ValueError
        For a bad `epochs` or `batch_size`, or `x` and `y` with different numbers of examples.
    """
    import keras

    if not isinstance(model, ModelPointer):
        raise TypeError(f"train takes a ModelPointer (he_tf.remote.send(model, player)), got "
                        f"{type(model).__name__}; to train a local model on remote data: he_tf.remote.fit")
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, Pointer):
            raise TypeError(f"train's {name} must be a pointer (he_tf.remote.send or define_input), got "
                            f"{type(value).__name__}")
    locations = sorted({model.location, x.location, y.location})
    if len(locations) > 1:
        raise MixedLocationsError(f"train needs the model and the data on one player, got the model on "
                                  f"{model.location!r}, x on {x.location!r}, y on {y.location!r}: the data stays "
                                  f"where it is, send the model there (he_tf.remote.send(model, {x.location!r}))")
    epochs, batch_size = _positive("epochs", epochs), _positive("batch_size", batch_size)
    if x.shape.rank == 0 or y.shape.rank == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y need the same number of examples along axis 0, got shapes {x.shape} and "
                         f"{y.shape}")
    local = model._model
    if not getattr(local, "compiled", False) or local.optimizer is None:
        raise TypeError(f"compile model {local.name!r} first (model.compile(optimizer, loss)): train uses its "
                        "optimizer's configuration and its loss")
    replica = model._replica
    with tf.device(_device(model.location)):
        if model._fresh_optimizer is None:  # a fresh optimizer of the local one's configuration, built here
            optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(local.optimizer))
            replica.compile(optimizer=optimizer, loss=local.loss)
            optimizer.build(replica.trainable_variables)
            model._fresh_optimizer = [tf.identity(v.value) for v in optimizer.variables]
        if batch_size not in model._epoch_functions:
            model._epoch_functions[batch_size] = _epoch_function(replica, batch_size)
        epoch = model._epoch_functions[batch_size]
        n = x.shape[0]
        losses = []
        for index in range(epochs):
            order = (tf.random.experimental.stateless_shuffle(tf.range(n), seed=[seed, index]) if shuffle
                     else tf.range(n))
            losses.append(epoch(x._value, y._value, order))
        losses = tf.stack(losses)
    model._policy = model.policy.join(x.policy).join(y.policy)
    return Pointer(losses, model.location, model.policy, f"{model.label}: losses")


def fit(model, x: Pointer, y: Pointer, *, epochs: int = 1, batch_size: int = 32, shuffle: bool = True,
        seed: int = 0) -> Pointer:
    """Trains the local Keras `model` on the player that holds `x` and `y`; only the weights come back.

    Sends the model there (:func:`send_model`), :func:`train`\\ s it and brings the weights back into
    `model`; returns a pointer to the per-epoch mean losses (still there, same policy as the weights).

    Raises
    ------
    PermissionError
        Before anything is sent, if the data's owners do not allow this process's player to receive
        what is computed from it: then keep the weights there with ``train(send(model, player), x, y)``
        (e.g. for secure aggregation).
    """
    me = whoami()
    if isinstance(model, ModelPointer):
        raise TypeError("fit takes the local Keras model and brings its weights back; for a model pointer use "
                        "he_tf.remote.train(model_ptr, x, y), then model_ptr.get()")
    if not _is_keras_model(model):
        raise TypeError(f"fit takes a Keras model, got {type(model).__name__}")
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, Pointer):
            raise TypeError(f"fit's {name} must be a pointer (he_tf.remote.send or define_input), got "
                            f"{type(value).__name__}")
    if x.location != y.location:
        raise MixedLocationsError(f"fit needs x and y on one player, got {x.location!r} and {y.location!r}")
    after = Policy.owned_by(me).join(x.policy).join(y.policy)
    if me not in after.readers:
        refusing = sorted(o for o in after.owners if me not in after.allowed_by(o))
        raise PermissionError(
            f"fit would bring back to {me!r} weights trained on data of {refusing}, who "
            f"{'does' if len(refusing) == 1 else 'do'} not allow {me!r} to receive values computed from it. "
            f"Keep the weights on {x.location!r}: "
            f"he_tf.remote.train(he_tf.remote.send(model, {x.location!r}), x, y), then e.g. aggregate them "
            "securely (he_tf.remote.define_private_input)"
        )
    pointer = send_model(model, x.location)
    losses = train(pointer, x, y, epochs=epochs, batch_size=batch_size, shuffle=shuffle, seed=seed)
    pointer.get()
    return losses


register_sender(_is_keras_model, send_model)

"""The slot rotations (Galois keys) a model needs, step by step.

A key set with exactly these keys rotates in one key switch per rotation and
is much smaller than ``rotations="power_of_two"`` (9 keys instead of 24 for a
30-feature logistic regression), which matters because the client sends
the keys to the server. Dense layers on the packed axis use the diagonal
method, also for one output (it leaves no partial sums in the other slots).
The plans are the kernels' own (``csrc/core/plans.h``, read through
``he_tf._core``), so the keys and the kernels cannot disagree.
"""

from __future__ import annotations

from he_tf import _core


def sum_slots(n: int) -> list[int]:
    """Rotate-and-add over the first ``n`` slots: left rotations by halving powers of two."""
    return _core.sum_slots_rotations(n)


def diagonal_matmul(inputs: int, outputs: int, slots: int) -> list[int]:
    """Baby-step/giant-step diagonal method for an ``inputs x outputs`` matrix on the packed axis.

    Raises ``ValueError`` if the cyclically replicated input does not fit the slots.
    """
    return _core.diagonal_matmul_rotations(inputs, outputs, slots)


def block_dense(samples: int, blocks: int, outputs: int, slots: int) -> list[int]:
    """A dense layer on samples in block layout (:mod:`he_tf.models.blocks`): one shift per block offset."""
    return _core.block_dense_rotations(slots, samples, blocks, outputs)

"""The slot rotations (Galois keys) the vector layout needs, step by step.

A key set with exactly these keys rotates in one key switch per rotation and
is much smaller than ``rotations="power_of_two"`` (9 keys instead of 24 for a
30-feature logistic regression), which matters because the client sends
the keys to the server. Dense layers on the packed axis use the diagonal
method, also for one output (it leaves no partial sums in the other slots).
These functions mirror the kernels' rotation plans (``csrc/core/rotate.cc``
SumSlots, for ``he_tf.reduce_sum``, and ``csrc/core/linear.cc``
DiagonalMatMul::Apply); if the two ever disagree, the kernels name the
missing key and ``rotations="power_of_two"`` still works.
"""

from __future__ import annotations

import math


def sum_slots(n: int) -> list[int]:
    """Rotate-and-add over the first ``n`` slots: left rotations by halving powers of two."""
    width = 1 << max(0, math.ceil(math.log2(n))) if n > 1 else 1
    steps, step = [], width >> 1
    while step >= 1:
        steps.append(step)
        step >>= 1
    return steps


def diagonal_matmul(inputs: int, outputs: int, slots: int) -> list[int]:
    """Baby-step/giant-step diagonal method for an ``inputs x outputs`` matrix on the packed axis."""
    copies = 1
    while copies * inputs < inputs + outputs - 1:  # cyclic replication of x over inputs + outputs - 1 slots
        copies <<= 1
    if inputs == slots:
        copies = 1
    elif copies * inputs > slots:
        raise ValueError(
            f"a {inputs}x{outputs} layer on the packed axis needs {copies * inputs} slots, the parameters "
            f"give {slots}; use layout='batch' or a larger poly_modulus_degree"
        )
    baby = math.ceil(math.sqrt(inputs))
    steps = []
    have = 1
    while have < copies:
        steps.append(-have * inputs)
        have <<= 1
    steps += list(range(1, min(baby, inputs)))
    steps += [g * baby for g in range(1, math.ceil(inputs / baby))]
    return steps

"""Fuzzes ``KeyRequirements.from_json``: the document a model owner's server sends a client.

Input: the JSON bytes. Documented failure: ``ValueError``. What it accepts must be consistent: valid
parameters, a known layout, rotations as integers, feature bounds of equal lengths with low <= high, an
input shape of at most 8 positive sizes holding the features.

    python -m tests.fuzz.fuzz_key_requirements tests/fuzz/corpus/fuzz_key_requirements [libFuzzer flags]
"""

from __future__ import annotations

import math

from tests.fuzz import common


def harness():
    import he_tf.models as hm
    from he_tf.tensor import LAYOUTS

    def one_input(data: bytes) -> None:
        try:
            r = hm.KeyRequirements.from_json(data)
        except ValueError:
            return
        assert r.layout in LAYOUTS and r.params.slot_count > 0
        assert r.rotations is None or all(isinstance(s, int) for s in r.rotations)
        if r.feature_bounds is not None:
            low, high = r.feature_bounds
            assert len(low) == len(high) and all(math.isfinite(a) and a <= b for a, b in zip(low, high))
        assert type(r.complex) is bool and (not r.complex or r.layout == "batch")
        if r.input_shape is not None:
            assert 1 <= len(r.input_shape) <= 8 and all(type(d) is int and d >= 1 for d in r.input_shape)
            assert r.features is None or math.prod(r.input_shape) == r.features

    return one_input, None


if __name__ == "__main__":
    common.main(harness)

"""The bad-input matrix: hostile bytes into every loader, each case isolated from the others' crashes.

Each case (tests/hostile/cases.py) crafts one input from real objects (tests/hostile/craft.py) and
feeds it to one public API; worker processes run them (tests/hostile/matrix.py), and a case that
kills its worker is run again alone. A case passes when its process is not killed (a crash shows as
a negative return code: -11 for SIGSEGV), the API raised a clean exception of the family it
documents (RecursionError, MemoryError or SystemError never count) or, where a result is acceptable,
returned the correct one, and the peak RSS grew by less than 200 MB over the case.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.hostile import craft, matrix
from tests.hostile.cases import CASES

RSS_LIMIT_MB = 200


@pytest.fixture(scope="module")
def results(request, tmp_path_factory) -> dict[str, matrix.Outcome]:
    """Every selected case, run up front on two workers."""
    folder = tmp_path_factory.mktemp("hostile-keys")
    matrix.write_keys(folder)
    names = sorted(
        {
            item.callspec.params["name"]
            for item in request.session.items
            if item.module.__name__ == __name__
            and hasattr(item, "callspec")
            and "name" in item.callspec.params
        }
    )
    return matrix.run_matrix(folder, names)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input(results, name):
    case, outcome = CASES[name], results[name]
    assert outcome.returncode >= 0, f"killed by signal {-outcome.returncode}: {outcome.log[-1500:]}"
    verdict = outcome.verdict
    assert verdict is not None, f"exit {outcome.returncode} without a verdict: {outcome.log[-3000:]}"
    if verdict["outcome"] == "raised":
        assert verdict["family_ok"], (
            f"raised {verdict['type']} (expected one of {case.expect}): "
            f"{verdict['message']}\n{verdict['where']}"
        )
    else:
        assert case.may_return, f"returned instead of refusing the input ({verdict['detail']})"
        assert verdict["correct"], f"silently wrong result: {verdict['detail']}"
    assert verdict["rss_growth_mb"] < RSS_LIMIT_MB, f"peak RSS grew by {verdict['rss_growth_mb']} MB"


# The crafting library's own guarantees: the hostile inputs are what they claim to be.


def test_zstd_bombs_inflate_to_their_size():
    zstandard = pytest.importorskip("zstandard")
    for declare in (True, False):
        frame = craft.zstd_zeros_frame(3 * craft.ZSTD_BLOCK + 5, declare_size=declare)
        out = zstandard.ZstdDecompressor().decompressobj().decompress(frame)
        assert out == bytes(3 * craft.ZSTD_BLOCK + 5)
    big = craft.zstd_zeros_frame(1 << 29)
    assert len(big) < 20_000
    assert zstandard.frame_content_size(big) == 1 << 29
    reader = zstandard.ZstdDecompressor().stream_reader(big)
    total = 0
    while chunk := reader.read(1 << 24):
        assert not any(chunk[::4096])
        total += len(chunk)
    assert total == 1 << 29


def test_seal_layout_round_trips_real_objects(keys):
    import he_tf
    import tensorflow as tf

    x = he_tf.encrypt(keys.public, np.arange(6.0))
    (element,) = craft.variant_elements(tf.io.serialize_tensor(x.ciphertexts).numpy())
    seal_bytes = element[craft.KEY_ID.size :]
    ct = craft.Ciphertext.parse(seal_bytes)
    p = keys.public.params
    assert (ct.size, ct.poly_modulus_degree, ct.coeff_modulus_size) == (
        2,
        p.poly_modulus_degree,
        len(p.coeff_mod_bit_sizes) - 1,
    )
    assert ct.scale == 2.0**p.scale_bits and ct.ntt_form == 1 and ct.correction_factor == 1
    assert ct.word_count == 2 * p.poly_modulus_degree * ct.coeff_modulus_size
    assert ct.save() == seal_bytes
    assert len(craft.empty_ciphertext(seal_bytes)) == 113
    s = he_tf.serialize(x).numpy()[0]
    assert craft.edit_serialized(s, lambda b: b) == s
    assert craft.Ciphertext.parse(craft.split_serialized(s)[1]) == ct
    # key containers: the blobs are SEAL objects and the id is where the bytes say
    public = keys.public.serialize()
    assert len(craft.blobs(public)) == 2  # public and relinearization keys (these keys have no Galois keys)
    assert public[craft.key_id_offset(public, keys.public.key_id) :][:8] == craft.KEY_ID.pack(
        keys.public.key_id
    )
    secret_blob, public_key = craft.blobs(keys.secret.serialize())  # the secret key, and its public key
    assert public_key.end - public_key.start == craft.blobs(keys.public.serialize())[0].end - craft.blobs(keys.public.serialize())[0].start
    assert len(craft.empty_plaintext(keys.secret.serialize()[secret_blob.start : secret_blob.end])) == 88

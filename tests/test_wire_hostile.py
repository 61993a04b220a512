"""Hostile messages: he_tf.models.wire.decode refuses every malformed one with WireFormatError, and nothing else.

Each test changes one thing in a valid message (or builds a bomb) and checks
the refusal; pytest.raises fails on any other exception type (RecursionError,
KeyError, TypeError, MemoryError, OverflowError, TensorFlow errors).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import he_tf
from he_tf.models import WireFormatError, wire

# The smallest parameters (N = 2048, depth 0): a message of one ciphertext is a few kilobytes.
PARAMS = he_tf.Params(2048, (27, 27), 20)


@pytest.fixture(scope="module")
def keys():
    return he_tf.KeySet.generate(PARAMS, rotations=None)


@pytest.fixture(scope="module")
def values():
    return np.array([[1.5, -2.0, 3.25]])


@pytest.fixture(scope="module")
def message(keys, values):
    """A valid request: a (1, 3) tensor in vector layout, one ciphertext."""
    x = he_tf.encrypt(keys.public, values, layout="vector", secret=keys.secret)
    return wire.encode("request", x, keys.public.key_id)


def split(data: bytes) -> tuple[dict, bytes]:
    size = int.from_bytes(data[8:12], "big")
    return json.loads(data[12:12 + size]), data[12 + size:]


def join(header: dict | bytes, body: bytes) -> bytes:
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return wire.MAGIC + len(head).to_bytes(4, "big") + head + body


def changed(data: bytes, change) -> bytes:
    """``data`` with ``change(header)`` applied to a copy of its header."""
    header, body = split(data)
    change(header)
    return join(header, body)


def refused(data: bytes, keys, match: str = "", expect: str = "request") -> None:
    with pytest.raises(WireFormatError, match=match):
        wire.decode(data, keys.public, expect)


def test_wire_format_error_is_a_value_error_exported_from_models():
    import he_tf.models as hm

    assert hm.WireFormatError is WireFormatError and issubclass(WireFormatError, ValueError)


def test_a_valid_message_round_trips(keys, values, message):
    decoded = wire.decode(message, keys.public, "request")
    assert decoded.kind == "request" and decoded.meta == {}
    assert decoded.tensor.shape == (1, 3) and decoded.tensor.level == PARAMS.depth == 0
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, decoded.tensor).numpy(), values, atol=1e-2)
    batch = he_tf.encrypt(keys.public, np.arange(12.0).reshape(4, 3))  # batch layout, public-key encryption
    meta = {"output": "logits", "activation": "sigmoid", "activation_on_server": False}
    decoded = wire.decode(wire.encode("response", batch, keys.public.key_id, meta), keys.public, "response")
    assert decoded.meta == meta
    np.testing.assert_allclose(he_tf.decrypt(keys.secret, decoded.tensor).numpy(),
                               np.arange(12.0).reshape(4, 3), atol=1e-2)


def test_deep_nesting_is_refused_before_parsing(keys, message):
    header, body = split(message)
    deep = b"[" * 10**5 + b"]" * 10**5
    refused(join(deep, body), keys, "JSON arrays/objects")
    head = json.dumps(header).encode().replace(b'"meta": {}', b'"meta": ' + deep)
    refused(join(head, body), keys, "JSON arrays/objects")
    refused(join(b"{" * 17 + b"}" * 17, body), keys, "JSON arrays/objects")


def test_huge_or_short_header_length(keys, message):
    refused(message[:8] + (2**32 - 1).to_bytes(4, "big") + message[12:], keys, "at most 1048576")
    refused(message[:8] + (wire.MAX_HEADER_BYTES + 1).to_bytes(4, "big") + message[12:], keys, "at most")
    refused(message[:8] + (len(message)).to_bytes(4, "big") + message[12:], keys, "truncated")
    refused(message[:8] + (5).to_bytes(4, "big") + message[12:], keys, "malformed he-tf message header")


def test_header_that_is_not_ascii_json_or_has_bad_constants(keys, message):
    header, body = split(message)
    text = json.dumps(header)
    refused(join("é".encode() + text.encode(), body), keys, "malformed")
    refused(join(b"[]", body), keys, "not an object")
    refused(join(text.replace('"meta": {}', '"meta": {"a": NaN}').encode(), body), keys, "NaN is not")
    refused(join(text.replace('"meta": {}', '"meta": {"a": 1' + "0" * 5000 + "}").encode(), body), keys,
            "malformed")
    refused(join(text.replace('"meta": {}', '"meta": {}, "kind": "request"').encode(), body), keys,
            "repeats a key")


@pytest.mark.parametrize("field, value, match", [
    ("format", True, "unsupported"),
    ("format", 1.0, "unsupported"),
    ("kind", "response", "expected an he-tf request, got a 'response'"),
    ("kind", "other", "kind must be one of"),
    ("kind", ["request"], "kind must be a string"),
    ("key_id", 12, "key_id must be a string"),
    ("key_id", "00", "16 hex digits"),
    ("key_id", "0123456789abcdef", "encrypted under key set 0123456789abcdef"),
    ("lengths", "all", "lengths must be a list"),
    ("meta", [], "meta must be an object"),
    ("meta", {"x": {"y": 1}}, "meta\\['x'\\] must be a string, number"),
    ("meta", {"activation": "relu"}, "meta\\['activation'\\] must be one of"),
    ("meta", {"activation_on_server": 1}, "meta\\['activation_on_server'\\] must be one of"),
    ("meta", {"folded": 0}, "meta\\['folded'\\] must be an integer in \\[1, "),
    ("meta", {"folded": True}, "meta\\['folded'\\] must be an integer"),
    ("meta", {"folded": 1 << 40}, "meta\\['folded'\\] must be an integer in"),
    ("tensor", [], "tensor must be an object"),
    ("extra", 1, "unknown fields \\['extra'\\]"),
])
def test_bad_header_fields(keys, message, field, value, match):
    refused(changed(message, lambda h: h.__setitem__(field, value)), keys, match)


def test_missing_fields(keys, message):
    for field in ("kind", "key_id", "tensor", "lengths", "meta"):
        refused(changed(message, lambda h, field=field: h.pop(field)), keys, f"missing fields \\['{field}'\\]")
    refused(changed(message, lambda h: h.pop("format")), keys, "unsupported")
    for field in ("shape", "scale", "params"):
        refused(changed(message, lambda h, field=field: h["tensor"].pop(field)), keys,
                f"missing fields \\['{field}'\\]")


@pytest.mark.parametrize("field, value, match", [
    ("shape", [True, 3], "tensor.shape\\[0\\] must be an integer"),
    ("shape", [1, 3.0], "tensor.shape\\[1\\] must be an integer"),
    ("shape", [0, 3], "tensor.shape\\[0\\] must be an integer in \\[1,"),
    ("shape", [-1, 3], "must be an integer in"),
    ("shape", [1] * 33, "at most 32"),
    ("shape", "1,3", "tensor.shape must be a list"),
    ("ciphertext_shape", [1, True], "ciphertext_shape\\[1\\] must be an integer"),
    ("dtype", "int32", "tensor.dtype must be one of"),
    ("dtype", "variant", "tensor.dtype must be one of"),
    ("layout", "diagonal", "tensor.layout must be one of"),
    ("packed_axis", 2, "packed_axis must be an integer in \\[0, 1\\]"),
    ("packed_axis", True, "packed_axis must be an integer"),
    ("packed_axis", -1, "packed_axis must be an integer"),
    ("level", True, "tensor.level must be an integer in \\[0, 0\\]"),
    ("level", 1, "tensor.level must be an integer in \\[0, 0\\]"),
    ("level", -1, "tensor.level must be an integer"),
    ("level", 1.0, "tensor.level must be an integer"),
    ("level", "1", "tensor.level must be an integer"),
    ("scale", 1e999, "Infinity is not a JSON number"),  # json.dumps writes Infinity
    ("scale", -(2.0**20), "declares scale"),
    ("scale", 0.0, "declares scale"),
    ("scale", 1.0, "declares scale"),
    ("scale", 2.0**60, "declares scale"),
    ("scale", True, "tensor.scale must be a number"),
    ("scale", "1048576.0", "tensor.scale must be a number"),
    ("params", [2048, [27, 27], 21], "made with parameters \\[2048, \\[27, 27\\], 21\\]"),
    ("params", [4096, [27, 27], 20], "made with parameters"),
    ("params", [2048, [27, 27, 27], 20], "made with parameters"),
    ("params", [2048, [27, True], 20], "tensor.params must be"),
    ("params", [2048.0, [27, 27], 20], "tensor.params must be"),
    ("params", "2048", "tensor.params must be"),
])
def test_bad_tensor_fields(keys, message, field, value, match):
    refused(changed(message, lambda h: h["tensor"].__setitem__(field, value)), keys, match)


def test_nan_and_infinite_scales(keys, message):
    text = json.dumps(split(message)[0])
    body = split(message)[1]
    scale = f'"scale": {float(2**20)!r}'
    assert scale in text
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        refused(join(text.replace(scale, f'"scale": {bad}').encode(), body), keys, "NaN|Infinity|scale inf")


def test_level_and_scale_must_be_the_ciphertexts(keys, message):
    """A plausible scale that is not the ciphertexts' own is refused when they are loaded."""
    refused(changed(message, lambda h: h["tensor"].update(scale=1.5 * 2.0**20)), keys,
            "cannot load the request's ciphertexts: .*scale")


def test_scale_must_fit_the_level(keys, message):
    # q_0 has 27 bits: a ciphertext at level 0 cannot have scale 2^27 (it could not hold the value 1).
    refused(changed(message, lambda h: h["tensor"].update(scale=2.0**27)), keys, "at level 0")


@pytest.mark.parametrize("shape, grid, packed_axis", [
    ([1, 3], [1, 2], 1),         # 3 values fit one ciphertext
    ([1, 3], [2, 1], 1),
    ([1, 3000], [1, 1], 1),      # 3000 values need 3 ciphertexts of 1024 slots
    ([1, 3], [1, 1], None),      # one value per ciphertext: the grid is the shape
    ([1, 3], [1], 0),
    ([2**27, 3], [1, 3], 0),
])
def test_shape_must_follow_from_the_grid(keys, message, shape, grid, packed_axis):
    refused(changed(message, lambda h: h["tensor"].update(shape=shape, ciphertext_shape=grid,
                                                          packed_axis=packed_axis)), keys, "ciphertext grid")


def test_lengths_must_match_grid_and_body(keys, message):
    header, _ = split(message)
    (length,) = header["lengths"]
    refused(changed(message, lambda h: h.update(lengths=[length, 0])), keys, "a list of 1 integers")
    refused(changed(message, lambda h: h.update(lengths=[])), keys, "a list of 1 integers")
    refused(changed(message, lambda h: h.update(lengths=[length - 1])), keys, "body holds")
    refused(changed(message, lambda h: h.update(lengths=[-length])), keys, "must be an integer in")
    refused(changed(message, lambda h: h.update(lengths=[True])), keys, "must be an integer in")
    refused(changed(message, lambda h: h.update(lengths=[float(length)])), keys, "must be an integer in")
    refused(message[:-1], keys, "lengths\\[0\\] must be an integer in \\[32, ")
    refused(message + b"x", keys, "body holds")
    # More ciphertexts than the body could hold, whatever the lengths say: refused before reading them.
    bomb = {"shape": [2**27, 3], "ciphertext_shape": [2**17, 3], "packed_axis": 0}
    refused(changed(message, lambda h: h["tensor"].update(bomb)), keys, "can hold at most")
    two = changed(message, lambda h: h["tensor"].update(shape=[2, 3], ciphertext_shape=[2, 1]))
    refused(changed(two, lambda h: h.update(lengths=[length - 20, 20])), keys, "must be an integer in \\[32,")


def test_corrupted_ciphertexts(keys, message):
    data = bytearray(message)
    data[-100] ^= 1
    refused(bytes(data), keys, "cannot load the request's ciphertexts")


def test_truncation_at_every_byte_offset(keys, message):
    assert len(message) < 20_000
    for end in range(len(message)):
        with pytest.raises(WireFormatError):
            wire.decode(message[:end], keys.public, "request")


def test_not_bytes_is_a_type_error(keys):
    with pytest.raises(TypeError, match="expected message bytes"):
        wire.decode("HETFMSG1", keys.public, "request")


BOMB = textwrap.dedent("""
    import json, sys
    import numpy as np
    import he_tf
    import he_tf.models as hm
    from tests.hostile.memory import peak_rss_mb, reset_peak_rss

    model = hm.from_weights(np.ones((3, 1)), np.zeros(1))
    client = hm.Client.generate(model.key_requirements())
    server = hm.Server(client.public_context, model)
    request = client.encrypt(np.ones((4, 3)))  # valid ciphertexts: a grid of [1, 3]
    size = int.from_bytes(request[8:12], "big")
    header, body = json.loads(request[12:12 + size]), request[12 + size:]
    shape, grid, random_body = json.loads(sys.argv[1])
    header["tensor"].update(shape=shape, ciphertext_shape=grid)
    if random_body:  # as many ciphertexts as the grid says, of random bytes
        count = int(np.prod(grid, dtype=object))
        header["lengths"] = [len(body) // count] * count
        header["lengths"][-1] += len(body) - sum(header["lengths"])
        body = np.random.default_rng(0).bytes(len(body))
    head = json.dumps(header).encode()
    data = request[:8] + len(head).to_bytes(4, "big") + head + body
    reset_peak_rss()
    before = peak_rss_mb()
    try:
        server.handle(data)
        outcome = "accepted"
    except hm.WireFormatError as e:
        outcome = "refused: " + str(e)
    except BaseException as e:
        outcome = f"{type(e).__name__}: {e}"
    print(json.dumps([outcome, len(data), peak_rss_mb() - before]))
""")


@pytest.mark.parametrize("shape, grid, random_body", [
    ([2**27, 3], [1, 3], False),      # valid ciphertexts, a shape the grid cannot hold
    ([2**27, 3], [2**15, 3], True),   # a consistent grid of more ciphertexts than the body can hold
    ([2**22, 3], [1024, 3], True),    # one the body could hold: refused when loading the ciphertexts
])
def test_shape_bombs_are_refused_in_bounded_memory(shape, grid, random_body):
    """A request of a few hundred KB declaring 2^27 x 3 values: refused before any allocation of that size."""
    run = subprocess.run([sys.executable, "-c", BOMB, json.dumps([shape, grid, random_body])],
                         check=False, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stderr[-2000:]
    outcome, size, megabytes = json.loads(run.stdout.strip().splitlines()[-1])
    assert size < 1_200_000
    assert outcome.startswith("refused: "), outcome
    assert megabytes < 200, f"the server took {megabytes:.0f} MB more at its peak ({outcome})"

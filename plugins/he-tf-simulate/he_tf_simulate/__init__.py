"""he-tf-simulate: a he-tf protocol plugin that runs CKKS programs on plaintext (see protocol.py)."""

from he_tf_simulate.protocol import Simulate, SimulatedTensor, measured_noise

__all__ = ["Simulate", "SimulatedTensor", "measured_noise"]

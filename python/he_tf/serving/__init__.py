"""Encrypted predictions as a network service, over TensorFlow Serving's API.

``python -m he_tf serve MODEL_DIR`` (:mod:`he_tf.serving.cli`) serves a model saved with
``EncryptedModel.save`` over TF Serving's gRPC ``PredictionService`` and its REST API;
:class:`he_tf.models.RemoteClient` (:mod:`he_tf.serving.client`) calls it. See docs/serving.md.

Files, from the bytes on the wire up:

- ``signatures.py``  the signatures (names, inputs, outputs) and the TensorProto <-> bytes rules, bounded
- ``service.py``     the transport-free service: context cache, limits, deadlines, counters
- ``contexts.py``    the public-context cache (bounded in bytes, least recently used out)
- ``metrics.py``     the counters and histograms a user scrapes (Prometheus text format)
- ``grpc_api.py``    PredictionService + health checking + bearer-token check over gRPC
- ``rest_api.py``    TF Serving's REST API on aiohttp
- ``server.py``      both servers in one process, structured logs, drain on SIGTERM
- ``client.py``      RemoteClient
"""

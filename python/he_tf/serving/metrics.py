"""What a user scrapes (``GET /metrics`` on the REST port, Prometheus' text format).

Every request that reaches the service is counted, refusals included; gRPC's own refusals (a message past
its size limit, a call without the bearer token) happen before it and are not.
"""

from __future__ import annotations

import prometheus_client as prom

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """One registry per service (several services can live in one process, e.g. in tests)."""

    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter("he_tf_serving_requests", "Requests finished, by API, signature and status "
                                     "code", ["api", "signature", "code"], registry=self.registry)
        self.latency = prom.Histogram("he_tf_serving_request_seconds", "Seconds from a request's arrival to its "
                                      "answer", ["api", "signature"], buckets=LATENCY_BUCKETS,
                                      registry=self.registry)
        self.bytes = prom.Counter("he_tf_serving_bytes", "Payload bytes received and sent", ["direction"],
                                  registry=self.registry)
        self.in_flight = prom.Gauge("he_tf_serving_in_flight", "Requests being handled", registry=self.registry)
        self.contexts = prom.Gauge("he_tf_serving_contexts", "Public contexts cached", registry=self.registry)
        self.context_bytes = prom.Gauge("he_tf_serving_context_bytes", "Serialized bytes of the cached "
                                        "public contexts", registry=self.registry)
        self.evictions = prom.Gauge("he_tf_serving_context_evictions", "Public contexts evicted from the "
                                    "cache since the start (least recently used first)", registry=self.registry)

    def render(self) -> bytes:
        return prom.generate_latest(self.registry)


CONTENT_TYPE = prom.CONTENT_TYPE_LATEST

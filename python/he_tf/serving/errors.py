"""The errors a request can end in, each with its gRPC status code and its HTTP status (one table)."""

from __future__ import annotations


class ServingError(Exception):
    """A request the service refused or could not finish; ``code`` names the gRPC status code."""

    code = "INTERNAL"
    http_status = 500


class InvalidRequest(ServingError, ValueError):
    """Malformed input: not a well-formed request for this model (the text says what is wrong)."""

    code, http_status = "INVALID_ARGUMENT", 400


class UnknownKeySet(ServingError):
    """The request's key set has no public context here (never sent, or evicted): send it again."""

    code, http_status = "FAILED_PRECONDITION", 400


class ModelNotFound(ServingError):
    code, http_status = "NOT_FOUND", 404


class Unauthenticated(ServingError):
    code, http_status = "UNAUTHENTICATED", 401


class ResourceExhausted(ServingError):
    code, http_status = "RESOURCE_EXHAUSTED", 429


class RequestTooLarge(ServingError, ValueError):
    """A request past the size limit, refused unread (as gRPC refuses a message past its limit)."""

    code, http_status = "RESOURCE_EXHAUSTED", 413


class DeadlineExceeded(ServingError):
    code, http_status = "DEADLINE_EXCEEDED", 504


class Unavailable(ServingError):
    """The server is draining (SIGTERM) and takes no new requests."""

    code, http_status = "UNAVAILABLE", 503

"""Typed errors carrying the server's answer."""


class PairRankerError(Exception):
    """Any failure of a call. `status` is the HTTP status (None when no answer came), `type` the
    server's error type, `message` its message, `request_id` its X-Request-Id."""

    def __init__(self, message, status=None, type=None, request_id=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.request_id = request_id
        self.body = body

    def __str__(self):
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        rid = f", request {self.request_id}" if self.request_id else ""
        kind = f" {self.type}" if self.type else ""
        return f"{where}{kind}: {self.message}{rid}"


class ConnectionFailed(PairRankerError):
    """The server could not be reached, or the connection broke before an answer (after retries)."""


class BadRequest(PairRankerError):
    """400: malformed JSON or wrong types."""


class Unauthorized(PairRankerError):
    """401: missing or wrong API key."""


class NotFound(PairRankerError):
    """404 or 405: no such route or method."""


class RequestTooLarge(PairRankerError):
    """413, 414 or 431: body, target or headers over the server's limits."""


class ValidationFailed(PairRankerError):
    """422: valid JSON that breaks the contract (the message names the field)."""


class Overloaded(PairRankerError):
    """429: over the admission limit; nothing was computed (retried with backoff first)."""


class Unavailable(PairRankerError):
    """503: loading, draining or over a memory budget (retried with backoff first)."""


class DeadlineExceeded(PairRankerError):
    """408 or 504: the request took longer than allowed."""


class ServerError(PairRankerError):
    """Any other 5xx."""


_BY_STATUS = {400: BadRequest, 401: Unauthorized, 404: NotFound, 405: NotFound, 408: DeadlineExceeded,
              411: BadRequest, 413: RequestTooLarge, 414: RequestTooLarge, 415: BadRequest, 417: BadRequest,
              422: ValidationFailed, 429: Overloaded, 431: RequestTooLarge, 503: Unavailable, 504: DeadlineExceeded}


def error_for(status, message, type=None, request_id=None, body=None):
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else PairRankerError)
    return cls(message, status=status, type=type, request_id=request_id, body=body)

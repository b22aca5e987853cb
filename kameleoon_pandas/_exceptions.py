"""Every error that ``kameleoon_pandas`` raises on purpose.

::

    KameleoonError
     ├── ConfigurationError        a setting is missing or unsafe (also a ValueError)
     ├── ValidationError           bad input, found before any request (also a ValueError)
     ├── PushError                 PushReport.raise_for_failures(): rows were invalid or failed
     └── APIError                  a request did not succeed (method, path)
          ├── TransportError           the network failed, after the retries
          └── APIStatusError           the server answered with an error status (.response)
               ├── BadRequestError          400
               ├── AuthenticationError      401 (also: the token endpoint refused the credentials)
               ├── PermissionDeniedError    403
               ├── PayloadTooLargeError     413
               ├── RateLimitError           429
               └── ServerError              5xx

    KameleoonWarning (a UserWarning)  a result left something out, e.g. keys the API did not know

A status error names the method, the path, the status and the server's message, and carries
the ``httpx.Response`` as ``.response``. No message ever holds a secret or a token: requests are
described by method and path only, never by headers or query credentials.
"""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the error tree is a leaf that frames can import
    import httpx

    from .report import PushReport

__all__ = [
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "KameleoonError",
    "KameleoonWarning",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PushError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "make_status_error",
]


class KameleoonError(Exception):
    """The root of every error raised by kameleoon_pandas."""


class KameleoonWarning(UserWarning):
    """A result was shaped with something left out (for example keys the API does not know)."""


class ConfigurationError(KameleoonError, ValueError):
    """A setting is missing, malformed or unsafe (for example plain HTTP to a remote host)."""


class ValidationError(KameleoonError, ValueError):
    """Input was refused before any request was sent; the message names the value."""


class PushError(KameleoonError):
    """Raised by :meth:`PushReport.raise_for_failures`; the report is ``.report``."""

    def __init__(self, message: str, report: PushReport) -> None:
        super().__init__(message)
        self.report = report


class APIError(KameleoonError):
    """A request to the Data API (or its token endpoint) did not succeed.

    Attributes: ``method`` and ``path`` of the request (never its headers or query).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class TransportError(APIError):
    """The request could not be completed at the network level, even after retries."""


class APIStatusError(APIError):
    """The server answered with an error status.

    Attributes: ``method``, ``path``, ``status_code``, ``message`` (the server's own words, or
    the body's start when it is not the documented ``{"error", "message"}`` shape) and
    ``response``.
    """

    def __init__(
        self, *, method: str, path: str, status_code: int, message: str, response: httpx.Response
    ) -> None:
        super().__init__(f"{method} {path} -> {status_code}: {message}", method=method, path=path)
        self.status_code = status_code
        self.message = message
        self.response = response


class BadRequestError(APIStatusError):
    """400: the server refused the request as malformed."""


class AuthenticationError(APIStatusError):
    """401: the credentials or the token were refused."""


class PermissionDeniedError(APIStatusError):
    """403: forbidden."""


class PayloadTooLargeError(APIStatusError):
    """413: the body was larger than the endpoint accepts."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` holds the server's hint in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        from ._retry import parse_retry_after  # the one parser: seconds or an HTTP date

        return parse_retry_after(self.response.headers.get("Retry-After"))


class ServerError(APIStatusError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def _server_message(response: httpx.Response) -> str:
    """The server's explanation: ``message`` of a JSON error body, else the body's start."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip()
        return text[:300] if text else (response.reason_phrase or "no message")
    if isinstance(body, dict):
        for field in ("message", "error_description", "error"):
            if isinstance(body.get(field), str) and body[field]:
                return body[field]
    return str(body)[:300]


def make_status_error(response: httpx.Response) -> APIStatusError:
    """The one factory that turns an error response into the matching exception."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIStatusError)
    request = response.request
    return cls(
        method=request.method,
        path=request.url.path,  # the path only: the query may carry identifiers, never secrets
        status_code=status,
        message=_server_message(response),
        response=response,
    )


# Shown as ``kameleoon_pandas.X`` in tracebacks and docs, where users meet them. Their methods
# say the same, so that tools that follow ``__module__`` (the API docs) find one home for each.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "kameleoon_pandas"
        for _member in vars(_obj).values():
            _function = getattr(_member, "fget", _member)  # a property's getter
            if inspect.isfunction(_function):
                _function.__module__ = "kameleoon_pandas"
del _name, _obj, _member, _function

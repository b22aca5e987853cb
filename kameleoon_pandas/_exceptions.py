"""Every error that ``kameleoon_pandas`` raises on purpose.

::

    KameleoonError
     ├── ConfigurationError        a setting is missing or unsafe (also a ValueError)
     ├── ValidationError           bad input, found before any request (also a ValueError)
     ├── PushError                 PushReport.raise_for_failures(): rows were invalid or failed
     ├── ClientClosedError         the client was closed (also a RuntimeError), in flight or before
     └── APIError                  a request did not succeed (method, path)
          ├── TransportError           the network failed, after the retries
          │    └── ConnectError            no connection: refused, unknown host, bad certificate
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
described by method and path only, and what a server says back is scrubbed (:func:`scrub`) of
bearer tokens, Basic credentials and the client's own secrets, also when it echoes them.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the error tree is a leaf that frames can import
    import httpx

    from .report import PushReport

__all__ = [
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
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
    "mask_authorization",
    "scrub",
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


class ClientClosedError(KameleoonError, RuntimeError):
    """The client was closed: before the call, or while the call was in flight."""


class TransportError(APIError):
    """The request could not be completed at the network level, even after retries."""


class ConnectError(TransportError):
    """No connection could be made: refused, an unknown host, or a certificate that failed.

    Refused connections and unknown hosts fail after at most two quick retries; a certificate
    failure is not retried. ``url`` is the address that was tried.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", url: str = "") -> None:
        super().__init__(message, method=method, path=path)
        self.url = url


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


#: A credential after its scheme, wherever a server or gateway echoes a header back.
_CREDENTIAL = re.compile(r"\b(Bearer|Basic)(\s+|%20|\+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_MESSAGE_LENGTH = 300


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without credentials: every ``Bearer``/``Basic`` value, and each of ``secrets``.

    ``secrets`` are the caller's own (the client secret, the current token, the Basic pair);
    each is also removed in its base64 and percent-encoded forms.
    """
    text = _CREDENTIAL.sub(lambda m: f"{m[1]} ***", text)
    for secret in secrets:
        if not secret:
            continue
        encoded = base64.b64encode(secret.encode()).decode()
        for form in (secret, encoded, encoded.rstrip("=")):
            if len(form) >= 4:  # never blank out everyday fragments
                text = text.replace(form, "***")
    return text


def mask_authorization(request: httpx.Request) -> None:
    """Blank the ``Authorization`` header of a request that is done (kept on an error)."""
    if "Authorization" in request.headers:
        request.headers["Authorization"] = "***"


def _server_message(response: httpx.Response, secrets: Iterable[str | None] = ()) -> str:
    """The server's explanation, scrubbed: ``message`` of a JSON error body, else its start."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip()
        message = text if text else (response.reason_phrase or "no message")
    else:
        message = str(body)
        if isinstance(body, dict):
            for field in ("message", "error_description", "error"):
                if isinstance(body.get(field), str) and body[field]:
                    message = body[field]
                    break
    # Scrubbed whole, then cut: a cut must never leave half a secret behind.
    return scrub(message, secrets)[:_MESSAGE_LENGTH]


def make_status_error(
    response: httpx.Response, secrets: Iterable[str | None] = ()
) -> APIStatusError:
    """The one factory that turns an error response into the matching exception.

    The message is scrubbed of credentials (:func:`scrub`), and the request kept on
    ``.response.request`` loses its ``Authorization`` header, so the exception carries no token.
    """
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIStatusError)
    request = response.request
    mask_authorization(request)
    return cls(
        method=request.method,
        path=request.url.path,  # the path only: the query may carry identifiers, never secrets
        status_code=status,
        message=_server_message(response, secrets),
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

"""Settings of a client, resolved once: argument > ``KAMELEOON_*`` environment variable > default.

=================  ==========================  ==========================================
argument           environment variable        default
=================  ==========================  ==========================================
``site_code``      ``KAMELEOON_SITE_CODE``     the first of ``site_codes``, else none
``site_codes``     ``KAMELEOON_SITE_CODES``    ``[site_code]`` (comma-separated in the env)
``client_id``      ``KAMELEOON_CLIENT_ID``     none (calls go out without a token)
``client_secret``  ``KAMELEOON_CLIENT_SECRET`` none (both or neither)
``base_url``       ``KAMELEOON_BASE_URL``      ``https://data.kameleoon.io``
``token_url``      ``KAMELEOON_TOKEN_URL``     ``https://api.kameleoon.com/oauth/token``;
                                               ``<base_url>/oauth/token`` for a loopback
                                               ``base_url``
``cache``          ``KAMELEOON_CACHE``         off; ``1`` / ``true`` or a path turn it on
=================  ==========================  ==========================================

Plain ``http://`` is refused for both URLs unless the host is a loopback address, so that
credentials and tokens never travel in clear text.
"""

from __future__ import annotations

import ipaddress
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from ._exceptions import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
    "Settings",
    "check_site_code",
    "resolve_settings",
]

DEFAULT_BASE_URL = "https://data.kameleoon.io"
DEFAULT_TOKEN_URL = "https://api.kameleoon.com/oauth/token"
ENV_PREFIX = "KAMELEOON_"


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one client. The secret never shows in the repr."""

    site_code: str | None
    site_codes: list[str]
    client_id: str | None
    client_secret: str | None = field(repr=False)
    base_url: str
    token_url: str
    max_concurrency: int
    rate_limit: float | None
    timeout: float
    retry_budget: float
    max_retries: int = 4
    #: The on-disk cache of GET answers (a SQLite file), or None when caching is off.
    cache_path: str | None = None
    cache_ttl: float = 3600.0

    @property
    def has_credentials(self) -> bool:
        return self.client_id is not None

    def site_code_for(self, site_code: str | None) -> str:
        """``site_code`` if given, else the default; a missing default is a ConfigurationError."""
        code = site_code if site_code is not None else self.site_code
        if code is None:
            raise ConfigurationError(
                "no site code: pass site_code=... (to the call or the client) "
                "or set the KAMELEOON_SITE_CODE environment variable"
            )
        return check_site_code(code)


def check_site_code(code: object) -> str:
    """``code`` when it is a non-empty string, else a ConfigurationError."""
    if not isinstance(code, str) or not code.strip():
        raise ConfigurationError(f"site_code must be a non-empty string, got {code!r}")
    return code


def _pick(value: str | None, name: str) -> str | None:
    """The argument if given, else the environment variable; blank values count as unset."""
    if value is None:
        value = os.environ.get(ENV_PREFIX + name.upper())
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _check_url(url: str, argument: str) -> str:
    variable = ENV_PREFIX + argument.upper()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"{argument} / {variable} is not a URL: {url!r}") from exc
    if parsed.scheme == "https" and parsed.host:
        return url.rstrip("/")
    if parsed.scheme == "http" and parsed.host:
        if _is_loopback(parsed.host):
            return url.rstrip("/")
        raise ConfigurationError(
            f"{argument} / {variable} uses plain http to {parsed.host!r}: credentials must not "
            "travel in clear text; use https (plain http is allowed only for a loopback host)"
        )
    raise ConfigurationError(f"{argument} / {variable} must be an http(s) URL, got {url!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _site_codes(value: Iterable[str] | str | None) -> list[str] | None:
    if value is None:
        raw = os.environ.get(ENV_PREFIX + "SITE_CODES")
        if raw is None:
            return None
        value = raw
    if isinstance(value, str):
        value = value.split(",")
    codes = [str(code).strip() for code in value]
    return [code for code in codes if code]


def resolve_settings(
    *,
    site_code: str | None = None,
    site_codes: Iterable[str] | str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    base_url: str | None = None,
    token_url: str | None = None,
    max_concurrency: int = 16,
    rate_limit: float | None = None,
    timeout: float = 30.0,
    retry_budget: float = 60.0,
    max_retries: int = 4,
    cache: bool | str | os.PathLike[str] | None = None,
    cache_ttl: float = 3600.0,
) -> Settings:
    """Resolve every setting once (argument > environment > default) and check it."""
    codes = _site_codes(site_codes)
    code = _pick(site_code, "site_code")
    if code is None and codes:
        code = codes[0]
    if codes is None or not codes:
        codes = [code] if code else []
    elif code is not None and code not in codes:
        codes = [code, *codes]

    cid = _pick(client_id, "client_id")
    secret = _pick(client_secret, "client_secret")
    if (cid is None) != (secret is None):
        missing = (
            "client_secret / KAMELEOON_CLIENT_SECRET"
            if secret is None
            else ("client_id / KAMELEOON_CLIENT_ID")
        )
        raise ConfigurationError(
            f"credentials need both client_id and client_secret (or neither); missing {missing}"
        )

    base = _check_url(_pick(base_url, "base_url") or DEFAULT_BASE_URL, "base_url")
    picked_token_url = _pick(token_url, "token_url")
    if picked_token_url is None and _is_loopback(httpx.URL(base).host):
        # A local Data API (the emulator) serves its own token endpoint: credentials meant for
        # it must never go to the real one.
        picked_token_url = base + "/oauth/token"
    token = _check_url(picked_token_url or DEFAULT_TOKEN_URL, "token_url")

    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError(
            f"max_concurrency must be an integer >= 1, got {max_concurrency!r}"
        )
    if rate_limit is not None and not (_is_number(rate_limit) and rate_limit > 0):
        raise ConfigurationError(f"rate_limit must be > 0 requests per second, got {rate_limit!r}")
    if not (_is_number(timeout) and timeout > 0):
        raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout!r}")
    if not (_is_number(retry_budget) and retry_budget >= 0):
        raise ConfigurationError(f"retry_budget must be >= 0 seconds, got {retry_budget!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if not (_is_number(cache_ttl) and cache_ttl > 0):
        raise ConfigurationError(f"cache_ttl must be > 0 seconds, got {cache_ttl!r}")

    return Settings(
        site_code=code,
        site_codes=codes,
        client_id=cid,
        client_secret=secret,
        base_url=base,
        token_url=token,
        max_concurrency=max_concurrency,
        rate_limit=float(rate_limit) if rate_limit is not None else None,
        timeout=float(timeout),
        retry_budget=float(retry_budget),
        max_retries=max_retries,
        cache_path=_cache_path(cache),
        cache_ttl=float(cache_ttl),
    )


#: Values of ``KAMELEOON_CACHE`` that turn the cache on at its default place, or leave it off.
_ON = {"1", "true", "yes", "on"}
_OFF = {"", "0", "false", "no", "off"}


def default_cache_path() -> str:
    """``$XDG_CACHE_HOME/kameleoon-pandas/http-cache.sqlite`` (``~/.cache`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "kameleoon-pandas", "http-cache.sqlite")


def _cache_path(cache: bool | str | os.PathLike[str] | None) -> str | None:
    """``cache=`` (else ``KAMELEOON_CACHE``): True or a truthy word -> the default file, a path
    -> that file, False / None / a falsy word -> no cache."""
    if cache is None:
        cache = os.environ.get(ENV_PREFIX + "CACHE")
        if cache is None:
            return None
    if isinstance(cache, bool):
        return default_cache_path() if cache else None
    if isinstance(cache, str) and cache.strip().lower() in _ON | _OFF:
        return default_cache_path() if cache.strip().lower() in _ON else None
    try:
        path = os.fspath(cache)
    except TypeError:
        raise ConfigurationError(
            f"cache / KAMELEOON_CACHE must be True, False or a file path, got {cache!r}"
        ) from None
    if os.path.isdir(path):
        raise ConfigurationError(f"cache / KAMELEOON_CACHE names a folder, not a file: {path!r}")
    return os.path.abspath(os.path.expanduser(path))

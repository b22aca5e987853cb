"""The retry policy's pure functions."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import _retry
from kameleoon_pandas._exceptions import make_status_error


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (413, False),
        (200, False),
    ],
)
def test_retryable_statuses(status: int, retry: bool) -> None:
    assert _retry.is_retryable_status(status) is retry
    assert _retry.should_retry(httpx.Response(status)) is retry


def test_network_failures_are_retried_other_errors_not() -> None:
    assert _retry.should_retry(httpx.ConnectError("refused"))
    assert _retry.should_retry(httpx.ReadTimeout("slow"))
    assert _retry.should_retry(httpx.RemoteProtocolError("dropped"))
    assert not _retry.should_retry(ValueError("not a network failure"))


def test_parse_retry_after() -> None:
    assert _retry.parse_retry_after(None) is None
    assert _retry.parse_retry_after("0") == 0.0
    assert _retry.parse_retry_after(" 2.5 ") == 2.5
    assert _retry.parse_retry_after("-3") == 0.0
    assert _retry.parse_retry_after("soon") is None
    assert _retry.parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_010.0, usegmt=True)
    assert _retry.parse_retry_after(date, now=1_000_000.0) == pytest.approx(10.0)


def test_backoff_grows_exponentially_and_is_capped() -> None:
    top = [_retry.backoff_delay(a, rand=lambda: 1.0) for a in range(1, 12)]
    assert top[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert max(top) == _retry.BACKOFF_CAP
    assert _retry.backoff_delay(5, rand=lambda: 0.0) == 0.0  # full jitter reaches zero


def test_retry_after_wins_is_capped_and_budget_clips() -> None:
    no_jitter = lambda: 0.0  # noqa: E731
    assert _retry.retry_delay(1, 3.0, remaining=60, rand=no_jitter) == 3.0
    assert _retry.retry_delay(1, 3600.0, remaining=60, rand=no_jitter) == _retry.RETRY_AFTER_CAP
    assert _retry.retry_delay(1, 3.0, remaining=1.0, rand=no_jitter) == 1.0
    assert _retry.retry_delay(9, None, remaining=-5.0) == 0.0
    jittered = _retry.retry_delay(1, 0.0, remaining=60, rand=lambda: 1.0)
    assert 0.0 < jittered <= _retry.BACKOFF_BASE


def test_rate_limit_error_reads_retry_after_as_the_retry_policy_does() -> None:
    def error(value: str) -> kp.RateLimitError:
        request = httpx.Request("GET", "http://127.0.0.1:9/map/map")
        response = httpx.Response(429, headers={"Retry-After": value}, request=request)
        return make_status_error(response)

    assert error("2.5").retry_after == 2.5
    assert error("-3").retry_after == 0.0  # was -3.0
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert error(in_a_minute).retry_after == pytest.approx(60, abs=2)  # was None

"""Settings: argument > KAMELEOON_* environment > default, checked once in the constructor."""

from __future__ import annotations

import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import client as client_module
from kameleoon_pandas._config import DEFAULT_BASE_URL, DEFAULT_TOKEN_URL, resolve_settings

from .conftest import SECRET


def test_defaults_without_anything() -> None:
    s = resolve_settings()
    assert (s.site_code, s.site_codes, s.client_id, s.client_secret) == (None, [], None, None)
    assert (s.base_url, s.token_url) == (DEFAULT_BASE_URL, DEFAULT_TOKEN_URL)
    assert not s.has_credentials


def test_environment_fills_in_and_argument_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMELEOON_SITE_CODE", "envsite")
    monkeypatch.setenv("KAMELEOON_SITE_CODES", "envsite, other ,")
    monkeypatch.setenv("KAMELEOON_CLIENT_ID", "env-id")
    monkeypatch.setenv("KAMELEOON_CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("KAMELEOON_BASE_URL", "http://127.0.0.1:8787/")
    monkeypatch.setenv("KAMELEOON_TOKEN_URL", "http://localhost:8787/oauth/token")
    s = resolve_settings()
    assert s.site_code == "envsite" and s.site_codes == ["envsite", "other"]
    assert (s.client_id, s.client_secret) == ("env-id", "env-secret")
    assert s.base_url == "http://127.0.0.1:8787"
    assert s.token_url == "http://localhost:8787/oauth/token"

    s = resolve_settings(
        site_code="argsite",
        client_id="arg-id",
        client_secret="arg-secret",
        base_url="https://eu-data.kameleoon.io",
    )
    assert s.site_code == "argsite"
    assert s.site_codes == ["argsite", "envsite", "other"]  # the default site is always offered
    assert (s.client_id, s.client_secret) == ("arg-id", "arg-secret")
    assert s.base_url == "https://eu-data.kameleoon.io"


def test_site_codes_give_the_default_site_code() -> None:
    s = resolve_settings(site_codes=["a", "b"])
    assert s.site_code == "a" and s.site_codes == ["a", "b"]


def test_missing_site_code_names_argument_and_variable() -> None:
    client = kp.Client(base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(kp.ConfigurationError, match=r"site_code.*KAMELEOON_SITE_CODE"):
            client.get_map("k")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"client_id": "x"}, "client_secret / KAMELEOON_CLIENT_SECRET"),
        ({"client_secret": SECRET}, "client_id / KAMELEOON_CLIENT_ID"),
    ],
)
def test_credentials_come_in_pairs(given: dict, missing: str) -> None:
    with pytest.raises(kp.ConfigurationError) as info:
        kp.Client(**given)
    assert missing in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("argument", ["base_url", "token_url"])
@pytest.mark.parametrize("url", ["http://data.example.com", "http://10.0.0.5:8787", "ftp://x"])
def test_plain_http_to_a_remote_host_is_refused(argument: str, url: str) -> None:
    with pytest.raises(kp.ConfigurationError, match=argument) as info:
        kp.AsyncClient(**{argument: url})
    assert f"KAMELEOON_{argument.upper()}" in str(info.value)


def test_plain_http_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMELEOON_BASE_URL", "http://data.example.com")
    with pytest.raises(kp.ConfigurationError, match="KAMELEOON_BASE_URL"):
        kp.Client()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:8787", "http://127.1.2.3"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert resolve_settings(base_url=url, token_url=url + "/oauth/token").base_url == url


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_concurrency", 0),
        ("rate_limit", 0),
        ("timeout", -1),
        ("retry_budget", -1),
        ("timeout", None),  # httpx's "no timeout" is not one here: a clear error, no TypeError
        ("rate_limit", "10"),
        ("retry_budget", "5"),
    ],
)
def test_numeric_options_are_checked(option: str, value: float) -> None:
    with pytest.raises(kp.ConfigurationError, match=option):
        resolve_settings(**{option: value})


def test_the_secret_never_shows_in_reprs() -> None:
    settings = dict(site_code="s1", client_id="my-id", client_secret=SECRET)
    sync = kp.Client(**settings)
    core = kp.AsyncClient(**settings)
    try:
        for text in (repr(sync), str(sync), repr(core), repr(core.settings), repr(sync.settings)):
            assert SECRET not in text
        assert "my-id" in repr(sync)  # the client id is fine to show
        assert SECRET not in repr(vars(core))
    finally:
        sync.close()


def test_resolve_client_builds_one_default_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "_default_client", None)
    monkeypatch.setenv("KAMELEOON_SITE_CODE", "fromenv")
    first = client_module.resolve_client(None)
    try:
        assert first.site_code == "fromenv"
        assert client_module.resolve_client(None) is first
        first.close()
        second = client_module.resolve_client(None)  # a closed default is rebuilt
        assert second is not first and not second.closed
        second.close()
    finally:
        first.close()
    mine = kp.Client(site_code="x")
    try:
        assert client_module.resolve_client(mine) is mine
    finally:
        mine.close()


def test_a_loopback_base_url_brings_its_own_token_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    s = resolve_settings(base_url="http://127.0.0.1:8787")
    assert s.token_url == "http://127.0.0.1:8787/oauth/token"  # never the real endpoint
    monkeypatch.setenv("KAMELEOON_BASE_URL", "http://localhost:9000/")
    assert resolve_settings().token_url == "http://localhost:9000/oauth/token"
    # A token URL given explicitly still wins; a remote base URL keeps the real default.
    assert resolve_settings(token_url="http://[::1]:1/t").token_url == "http://[::1]:1/t"
    assert resolve_settings(base_url="https://eu-data.kameleoon.io").token_url == DEFAULT_TOKEN_URL


def test_clients_render_as_html_without_secrets(tmp_path) -> None:
    with kp.Client(
        "abc",
        site_codes=["abc", "def"],
        base_url="http://127.0.0.1:9",
        client_id="the-id",
        client_secret=SECRET,
        cache=tmp_path / "c.sqlite",
    ) as client:
        shown = client._repr_html_()
        assert "abc, def" in shown and "the-id" in shown and "c.sqlite" in shown
        assert SECRET not in shown and SECRET not in repr(client)
        assert "http://127.0.0.1:9/oauth/token" in shown
        assert SECRET not in client.async_client._repr_html_()
    assert "(closed)" in client._repr_html_()

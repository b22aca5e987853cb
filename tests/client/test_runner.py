"""The sync Client's private loop thread: scripts, running loops, threads, nest_asyncio, exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import kameleoon_pandas as kp


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"key": request.url.params.get("key")})


def test_sync_client_inside_a_running_event_loop(make_client) -> None:
    client = make_client(echo)

    async def cell() -> dict:  # what a Jupyter cell does: call sync code under a running loop
        asyncio.get_running_loop()
        return client.get_map("inside")

    assert asyncio.run(cell()) == {"key": "inside"}


def test_sync_client_from_many_threads(make_client) -> None:
    client = make_client(echo)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.get_map(f"k{i}"), range(64)))
    assert answers == [{"key": f"k{i}"} for i in range(64)]


def test_run_executes_on_the_private_loop(make_client) -> None:
    client = make_client(echo)

    async def where() -> str:
        return threading.current_thread().name

    assert client.run(where()) == "kameleoon-pandas-loop"
    assert client.run(client.async_client.get_map("k")) == {"key": "k"}


def test_calling_sync_methods_from_the_loop_itself_is_refused(make_client) -> None:
    client = make_client(echo)

    async def reenter() -> None:
        client.get_map("k")

    with pytest.raises(RuntimeError, match="own loop"):
        client.run(reenter())


def test_close_is_idempotent_and_a_closed_client_refuses_work(make_client) -> None:
    with make_client(echo) as client:
        assert client.get_map("a") == {"key": "a"}
    assert client.closed
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.get_map("a")


def test_async_client_as_context_manager() -> None:
    async def main() -> dict:
        async with kp.AsyncClient(
            "s1", base_url="http://127.0.0.1:9", transport=httpx.MockTransport(echo)
        ) as ac:
            answer = await ac.get_map("k")
        assert ac.closed
        return answer

    assert asyncio.run(main()) == {"key": "k"}


def _run_script(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_an_unclosed_client_does_not_hang_interpreter_exit() -> None:
    done = _run_script(
        """
        import httpx, kameleoon_pandas as kp
        client = kp.Client("s1", base_url="http://127.0.0.1:9",
                           transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})))
        assert client.get_map("k") == {}
        other = kp.Client("s1")  # never used, never closed
        print("done")
        """,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    assert "Traceback" not in done.stderr


def test_sync_client_with_nest_asyncio_applied() -> None:
    # In a subprocess: nest_asyncio patches asyncio for the whole process, for good.
    done = _run_script(
        """
        import asyncio, threading
        from concurrent.futures import ThreadPoolExecutor
        import nest_asyncio
        nest_asyncio.apply()
        import kameleoon_pandas as kp
        from kameleoon_pandas.emulator import serve

        with serve() as srv:
            with kp.Client("s1", base_url=srv.url, token_url=srv.token_url,
                           client_id=srv.client_id, client_secret=srv.client_secret) as client:
                client.post_maps({"k": {"f": 1}})
                assert client.get_map("k") == {"f": 1}

                async def cell():
                    return client.get_map("k")

                loop = asyncio.get_event_loop()
                assert loop.run_until_complete(cell()) == {"f": 1}
                assert asyncio.run(cell()) == {"f": 1}
                with ThreadPoolExecutor(4) as pool:
                    assert list(pool.map(lambda i: client.get_map("k"), range(8))) == [{"f": 1}] * 8
                frame = kp.read_maps(["k", "k"], client=client)
                assert frame["f"].tolist() == [1], frame
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

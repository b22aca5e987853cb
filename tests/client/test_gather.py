"""``gather_all``: results in input order, the first failure cancels the rest; with ``limit``,
a bounded pool of workers that consumes a lazy iterable as it goes."""

from __future__ import annotations

import asyncio

import pytest

from kameleoon_pandas.client import gather_all


async def _value(i: int, running: list[int], peak: list[int]) -> int:
    running.append(i)
    peak[0] = max(peak[0], len(running))
    await asyncio.sleep(0.001 * (i % 3))  # out of order on purpose
    running.remove(i)
    return i * 10


@pytest.mark.parametrize("limit", [None, 1, 4, 100])
def test_results_come_in_input_order(limit: int | None) -> None:
    running: list[int] = []
    peak = [0]
    out = asyncio.run(gather_all((_value(i, running, peak) for i in range(30)), limit=limit))
    assert out == [i * 10 for i in range(30)]
    assert peak[0] <= (limit or 30)
    if limit is not None:
        assert peak[0] == min(limit, 30)  # the pool is used, not one at a time


def test_a_bounded_pool_creates_the_awaitables_as_it_goes() -> None:
    created: list[int] = []
    running: list[int] = []
    peak = [0]

    def lazy():
        for i in range(20):
            created.append(i)
            # at most the pool's size of awaitables exist before their turn
            assert len(created) - len([c for c in created if c * 10 in done]) <= 3
            yield _value(i, running, peak)

    done: list[int] = []

    async def main() -> list[int]:
        async def record(awaitable):
            value = await awaitable
            done.append(value)
            return value

        return await gather_all((record(a) for a in lazy()), limit=3)

    assert asyncio.run(main()) == [i * 10 for i in range(20)]
    assert created == list(range(20))


@pytest.mark.parametrize("limit", [None, 2])
def test_the_first_failure_is_raised_and_cancels_the_rest(limit: int | None) -> None:
    cancelled: list[int] = []
    started: list[int] = []

    async def job(i: int) -> int:
        started.append(i)
        if i == 1:
            raise ValueError("job 1 failed")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    with pytest.raises(ValueError, match="job 1 failed"):
        asyncio.run(gather_all((job(i) for i in range(6)), limit=limit))
    assert 0 in cancelled  # was running when job 1 failed
    if limit is not None:
        assert len(started) < 6  # the jobs not yet started were never created

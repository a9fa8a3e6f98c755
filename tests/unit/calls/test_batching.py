"""MicroBatcher: requests that arrive while a batch runs go together in the next one."""

from __future__ import annotations

import asyncio

import pytest

from core.calls.batching import MicroBatcher


class GatedModel:
    """Doubles numbers; each call waits until the test opens the gate."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail_on = fail_on

    async def __call__(self, keys: list[int]) -> list[int]:
        self.calls.append(keys)
        self.entered.set()
        await self.gate.wait()
        if self.fail_on in keys:
            raise ValueError(f"cannot do {self.fail_on}")
        return [2 * k for k in keys]


async def test_a_lone_request_runs_at_once():
    model = GatedModel()
    model.gate.set()
    batcher = MicroBatcher(model)
    assert await batcher(3) == 6
    assert model.calls == [[3]]


async def test_requests_arriving_during_a_batch_share_the_next_and_duplicates_run_once():
    model = GatedModel()
    batcher = MicroBatcher(model)
    first = asyncio.create_task(batcher(1))
    await model.entered.wait()  # batch [1] is running, held at the gate
    rest = [asyncio.create_task(batcher(k)) for k in (2, 3, 4, 3)]
    await asyncio.sleep(0)  # one pass of the event loop: the new tasks queue their requests
    assert batcher.waiting == 4
    model.gate.set()
    assert await first == 2
    assert [await t for t in rest] == [4, 6, 8, 6]
    assert model.calls == [[1], [2, 3, 4]]
    assert batcher.batches == 2


async def test_batches_are_capped():
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch=2)
    first = asyncio.create_task(batcher(0))
    await model.entered.wait()
    rest = [asyncio.create_task(batcher(k)) for k in (1, 2, 3, 4, 5)]
    await asyncio.sleep(0)
    assert batcher.waiting == 5
    model.gate.set()
    assert [await first, *[await t for t in rest]] == [0, 2, 4, 6, 8, 10]
    assert model.calls == [[0], [1, 2], [3, 4], [5]]


async def test_a_failing_batch_fails_its_requests_only():
    model = GatedModel(fail_on=2)
    batcher = MicroBatcher(model)
    first = asyncio.create_task(batcher(1))
    await model.entered.wait()
    doomed = [asyncio.create_task(batcher(k)) for k in (2, 3)]
    await asyncio.sleep(0)
    assert batcher.waiting == 2
    model.gate.set()
    assert await first == 2
    for task in doomed:
        with pytest.raises(ValueError, match="cannot do 2"):
            await task
    assert await batcher(5) == 10  # the batcher carries on


async def test_a_cancelled_request_does_not_disturb_its_batch():
    model = GatedModel()
    batcher = MicroBatcher(model)
    first = asyncio.create_task(batcher(1))
    await model.entered.wait()
    gone = asyncio.create_task(batcher(7))
    kept = asyncio.create_task(batcher(7))
    await asyncio.sleep(0)
    assert batcher.waiting == 2
    gone.cancel()
    model.gate.set()
    assert await first == 2 and await kept == 14
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_a_wrong_number_of_results_is_an_error():
    async def short(keys: list[int]) -> list[int]:
        return keys[:-1]

    with pytest.raises(RuntimeError, match="batch of 1 gave 0 results"):
        await MicroBatcher(short)(1)


async def test_single_flight_shares_one_computation_and_survives_a_waiter_going_away():
    from core.calls.batching import SingleFlight

    flights: SingleFlight[str, int] = SingleFlight()
    started: list[int] = []
    release, both_started = asyncio.Event(), asyncio.Event()

    async def compute() -> int:
        started.append(1)
        if len(started) == 2:
            both_started.set()
        await release.wait()
        return 42

    first = asyncio.ensure_future(flights("page", compute))
    second = asyncio.ensure_future(flights("page", compute))
    other = asyncio.ensure_future(flights("other", compute))
    await asyncio.wait_for(both_started.wait(), timeout=10)
    assert len(started) == 2 and flights.running == 2  # one per key, not one per request
    first.cancel()  # its client went away: the others still get the answer
    release.set()
    assert await second == 42 and await other == 42
    assert first.cancelled() and flights.running == 0

    async def fail() -> int:
        raise ValueError("database down")

    with pytest.raises(ValueError, match="down"):
        await flights("page", fail)
    assert flights.running == 0  # a failure is not kept: the next request tries again

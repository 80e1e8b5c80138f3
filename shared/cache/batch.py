"""Redis commands of the cache started in the same turn of the event loop share one pipeline.

A screen looks up several entries at once (the product, its inventory, the user's account,
the recommendations…). Alone, each lookup's read is a round trip of its own, and on a miss so
is each lock taken; worse, on one event loop those round trips come back one after another, so
the second cold key's core call started well after the first's. Every read and every lock
taken joins the batch being gathered; the batch is sent on the loop's next turn, so the parts
of one screen that reach the cache together go out together, and their answers come back
together. A failure to talk to Redis fails every caller of the batch, as it would have failed
each alone; an error reply fails only the caller whose command it answers.

The pipeline is not a transaction (the Cluster client splits it by node); commands of one
caller that share a hash tag sit on one node, which runs them in their order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from shared.platform.redis import RedisClient, RedisPipeline

Queue = Callable[[RedisPipeline], object]
"""Adds one caller's commands to the batch's pipeline."""


class RedisBatch:
    """Gathers callers' commands during one turn of the loop, then sends them as one pipeline."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._pending: list[tuple[Queue, asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def send(self, queue: Queue) -> asyncio.Future[list[Any]]:
        """The replies to the commands ``queue`` adds, in their order, once the batch is sent."""
        loop = asyncio.get_running_loop()
        if not self._pending:
            loop.call_soon(self._send)
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append((queue, future))
        return future

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._sending)

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._execute(batch), name="cache-redis-batch")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _execute(self, batch: list[tuple[Queue, asyncio.Future[list[Any]]]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        ends = []
        for queue, _ in batch:
            queue(pipe)
            ends.append(len(pipe))
        try:
            replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for (_, future), end in zip(batch, ends, strict=True):
            own = replies[start:end]
            start = end
            if future.done():
                continue
            error = next((reply for reply in own if isinstance(reply, Exception)), None)
            if error is None:
                future.set_result(own)
            else:
                future.set_exception(error)

"""The pool of workers: requests `concurrency` at a time, answers in completion order.

Threading model: worker threads only send requests and classify answers. Everything a
Singer consumer sees (records, counters, STATE) is produced by the thread that iterates
`fetch_all`, because the SDK's writers and state dicts are not thread-safe.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

_R = TypeVar("_R")


def fetch_all(  # noqa: PLR0913 (the pool's parts, each named)
    fetch: Callable[[int], _R],
    ids: Iterable[int | None],
    window: int,
    *,
    halted: Callable[[], bool],
    stop: Callable[[], None],
    on_idle: Callable[[], None] | None = None,
) -> Iterator[_R]:
    """Call `fetch` for every ID, `window` at a time; yield results as they complete.

    `ids` may yield None to say "no ID until more answers are in" (ID discovery decides
    how far to probe from the answers). Results come back in completion order, not input
    order: waiting for the oldest request would let one slow answer hold back all the
    others. `on_idle` is called on this thread about once a second while no answer comes
    (waiting on the budget, or on slow answers). Once `halted()` (the deadline passed, or
    a stop was asked for), no further ID is taken from `ids`, and the requests in flight
    finish. `stop` asks the workers to give up; it is called when the pool ends, however
    it ends.
    """
    source = iter(ids)
    in_flight: set[Future[_R]] = set()
    exhausted = False
    with ThreadPoolExecutor(max_workers=window, thread_name_prefix="hindsight") as pool:
        try:
            while True:
                while not exhausted and len(in_flight) < window:
                    if halted():
                        exhausted = True
                        break
                    try:
                        next_id = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    if next_id is None:
                        break  # wait for answers before asking again
                    in_flight.add(pool.submit(fetch, next_id))
                if not in_flight:
                    return  # exhausted, or waiting on nothing (a source's mistake)
                done, in_flight = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
                exhausted = exhausted or halted()  # the workers waiting give up
                if not done and on_idle is not None:
                    on_idle()
                for future in done:
                    yield future.result()
        finally:
            # Reached on success, on a rejected key, and when the consumer stops early
            # (GeneratorExit): in-flight workers must not keep spending budget.
            stop()
            pool.shutdown(wait=True, cancel_futures=True)

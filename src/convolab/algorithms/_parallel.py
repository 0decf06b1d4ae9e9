"""Tasks on the cores: one thread pool, work handed out a task at a time.

Overlap-save tiles and the products of separable passes spend their time in
scipy.fft and BLAS, which release the GIL, so Python threads run them in
parallel.  :func:`run_tasks` does two things that a pool's ``map`` does not:

- the calling thread works too, instead of waiting for the pool's threads:
  it is running already, where a pool thread may first have to be woken;
- tasks are handed out one at a time as threads become free, not as fixed
  shares: a thread that starts late or runs slowly (its core was idle a
  moment ago, or another process holds it) takes fewer tasks instead of
  making the others wait for its share.

On the 2-core machine of ``docs/performance.md``, a 1024x1024 float64 image
with a 31x31 kernel ('same', overlap-save, 25 tiles) took 16.3-17.3 ms with
fixed shares in the benchmark (its call follows other libraries', which
leave the second core idle) and 9.9 ms handed out a task at a time; back to
back, 9.5 against 9.3 ms.

Examples
--------
>>> squares = [0] * 6
>>> def square(i):
...     squares[i] = i * i
>>> run_tasks(square, range(6), workers=2)
>>> squares
[0, 1, 4, 9, 16, 25]
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")

_ACTIVE = threading.local()


def run_tasks(function: Callable[[Item], object], items: Iterable[Item], workers: int) -> None:
    """Call ``function(item)`` for every item on up to ``workers`` threads,
    the calling thread one of them; the first error is raised once every
    thread has stopped.  Called from within a task, it runs the items on the
    calling thread (the pool's threads are busy with the outer tasks)."""
    items = list(items)
    workers = max(1, min(workers, len(items)))
    if workers == 1 or getattr(_ACTIVE, "running", False):
        for item in items:
            function(item)
        return
    queue = iter(items)
    lock = threading.Lock()
    failed = threading.Event()

    def work() -> None:
        _ACTIVE.running = True
        try:
            while not failed.is_set():
                with lock:
                    item = next(queue, queue)
                if item is queue:          # none left
                    return
                try:
                    function(item)
                except BaseException:
                    failed.set()           # the others stop taking tasks
                    raise
        finally:
            _ACTIVE.running = False

    helpers = [_pool().submit(work) for _ in range(workers - 1)]
    try:
        work()
    finally:
        errors = []
        for helper in helpers:
            try:
                helper.result()
            except BaseException as exc:   # noqa: BLE001 - re-raised below
                errors.append(exc)
    if errors:
        raise errors[0]


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 1) - 1),
                              thread_name_prefix="convolab")


# a forked child has the pool object but not its threads: it makes its own
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.cache_clear)

"""The shared task pool (convolab.algorithms._parallel.run_tasks)."""

from __future__ import annotations

import threading

import pytest

from convolab.algorithms._parallel import run_tasks


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
@pytest.mark.parametrize("count", [0, 1, 2, 7, 40])
def test_every_item_runs_exactly_once(workers: int, count: int) -> None:
    calls = [0] * count
    lock = threading.Lock()

    def task(i: int) -> None:
        with lock:
            calls[i] += 1

    run_tasks(task, range(count), workers)
    assert calls == [1] * count


def test_the_calling_thread_takes_tasks_too() -> None:
    # each task waits until a second thread has started one, so neither
    # thread can run them all alone before the other joins in
    threads: set[int] = set()
    both = threading.Event()
    lock = threading.Lock()

    def task(_: int) -> None:
        with lock:
            threads.add(threading.get_ident())
            if len(threads) == 2:
                both.set()
        both.wait(10)

    run_tasks(task, range(6), workers=2)
    assert threading.get_ident() in threads and len(threads) == 2


def test_tasks_are_handed_out_one_at_a_time() -> None:
    # task 0 blocks until every other task has finished: with fixed shares
    # (0, 2, 4, ... to one thread) tasks 2, 4, ... would wait behind it and
    # it would time out; handed out as threads free up, the other thread
    # runs all of them
    count = 9
    done = [False] * count
    rest_done = threading.Event()
    lock = threading.Lock()
    finished_in_time = []

    def task(i: int) -> None:
        if i == 0:
            finished_in_time.append(rest_done.wait(10))
        with lock:
            done[i] = True
            if all(done[1:]):
                rest_done.set()

    run_tasks(task, range(count), workers=2)
    assert finished_in_time == [True] and all(done)


def test_the_first_error_is_raised_and_the_pool_still_works() -> None:
    def task(i: int) -> None:
        if i == 3:
            raise ValueError("task 3 failed")

    with pytest.raises(ValueError, match="task 3 failed"):
        run_tasks(task, range(8), workers=2)
    seen: list[int] = []
    lock = threading.Lock()

    def record(i: int) -> None:
        with lock:
            seen.append(i)

    run_tasks(record, range(5), workers=2)
    assert sorted(seen) == list(range(5))


def test_an_error_in_a_pool_thread_is_raised_in_the_caller() -> None:
    caller = threading.get_ident()
    started = threading.Event()

    def task(i: int) -> None:
        if threading.get_ident() != caller:
            started.set()
            raise KeyError("from the pool")
        started.wait(10)          # the caller waits until a pool thread has run one

    with pytest.raises(KeyError, match="from the pool"):
        run_tasks(task, range(4), workers=2)


def test_a_call_inside_a_task_runs_on_that_task_s_thread() -> None:
    # the pool's threads are busy with the outer tasks: an inner call must not
    # wait for them (with one pool thread it would otherwise deadlock)
    inner: dict[int, set[int]] = {}
    lock = threading.Lock()

    def outer(i: int) -> None:
        me = threading.get_ident()

        def record(_: int) -> None:
            with lock:
                inner.setdefault(i, set()).add(threading.get_ident())

        run_tasks(record, range(4), workers=2)
        with lock:
            assert inner[i] == {me}

    run_tasks(outer, range(4), workers=2)
    assert sorted(inner) == [0, 1, 2, 3]

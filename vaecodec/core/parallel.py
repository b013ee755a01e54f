"""Run a function over chunks of work in worker processes, results in input order.

Pillow's per-image work is mostly Python-level, so threads would not overlap it; forked
processes do, and inherit the parent's imports, so they start in milliseconds.
"""

from __future__ import annotations

import os
import threading
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def worker_count(n_items: int, min_items: int) -> int:
    """Processes worth starting for ``n_items`` (1 below ``min_items``, or where fork is
    unsafe: not POSIX, or more than one thread running in this process)."""
    if n_items < min_items or os.name != "posix" or threading.active_count() > 1:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 8))


def map_chunks(func: Callable[[T], R], chunks: Iterable[T], workers: int) -> Iterator[R]:
    """``func(chunk)`` for each chunk (a sequence, or an iterable consumed as the workers
    need more), in order; the first error (in order) propagates."""
    if workers <= 1 or (isinstance(chunks, Sequence) and len(chunks) <= 1):
        yield from map(func, chunks)
        return
    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    window = workers * 4  # chunks in flight: results wait for a slow consumer no longer
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_worker_signals) as pool:
        futures: collections.deque = collections.deque()
        todo = iter(chunks)
        try:
            for chunk in todo:
                futures.append(pool.submit(func, chunk))
                if len(futures) >= window:
                    yield futures.popleft().result()
            while futures:
                yield futures.popleft().result()
        finally:
            for future in futures:
                future.cancel()


def _worker_signals() -> None:
    """A worker leaves Ctrl-C (sent to the whole process group) and SIGTERM to its
    parent, which stops the pool and cleans up: no traceback from each worker."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

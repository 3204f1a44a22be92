"""Adaptive concurrency for ``ask --each``: additive increase, multiplicative decrease.

:class:`Limiter` runs as SDK middleware around every HTTP attempt (the SDK's retries included):
a 429 or 529 halves the number of attempts allowed at once, and a run of successes as long as
the current limit allows one more, up to ``--jobs``. The SDK retries and honours
``retry-after``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

_THROTTLED: Final = frozenset({429, 529})


class Abandoned(Exception):
    """A request that was not sent because the run is stopping."""


class Limiter:
    """At most ``limit`` HTTP attempts at once (AIMD). A 429 or 529 halves ``limit`` (once per
    generation: attempts that started before a cut do not cut again); ``limit`` successes in a
    row raise it by one, up to ``ceiling``. No clocks: it reacts to answers only."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.lowest = self.ceiling
        self.in_flight = 0
        self.cuts = 0
        self._generation = 0
        self._streak = 0
        self._stopping = False
        self._cond = threading.Condition()

    def acquire(self) -> int | None:
        """Wait for a free slot; the generation it started in, or None when stopping."""
        with self._cond:
            while self.in_flight >= self.limit and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            self.in_flight += 1
            return self._generation

    def release(self, generation: int, status: int | None) -> None:
        """Free the slot; ``status`` is the attempt's HTTP status (None: no answer)."""
        with self._cond:
            self.in_flight -= 1
            if status in _THROTTLED:
                if generation == self._generation:
                    self.limit = max(1, self.limit // 2)
                    self.lowest = min(self.lowest, self.limit)
                    self._generation += 1
                    self._streak = 0
                    self.cuts += 1
            elif status is not None and status < 400:
                self._streak += 1
                if self._streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()

    def stop(self) -> None:
        """Start nothing more: waiting attempts give up."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def middleware(self) -> Callable[[Any, Callable[[Any], Any]], Any]:
        """SDK middleware: every attempt (retries too) waits for a slot and reports its status;
        once stopping, no attempt starts (:class:`Abandoned`)."""

        def pace(request: Any, call_next: Callable[[Any], Any]) -> Any:
            generation = self.acquire()
            if generation is None:
                raise Abandoned("the run is stopping")
            status: int | None = None
            try:
                response = call_next(request)
                status = int(response.status_code)
                return response
            finally:
                self.release(generation, status)

        return pace

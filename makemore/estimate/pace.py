"""How this server's trainings compare with their estimates right now, to scale the next estimates.

The estimates (makemore.estimate.training_seconds) are fitted on an idle machine; a busy server (a
class training at once, pages being drawn) took 62 s for "about 33 s". The job board tells its Pace
each training it finished in full, with the estimate it was started with and its real seconds:

    pace = Pace()
    pace.observe(estimate=33.0, seconds=62.0)
    pace.factor()          # the median of the recent ratios, bounded; 1.0 until there are enough
    pace.seconds(33.0)     # the estimate scaled by it
    pace.headline()        # "this server is slower than usual right now" ("" when not scaled)
    pace.note()            # the same, then ": recent trainings took 1.9× their estimate"
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

RECENT_TRAININGS = 10  # the last this many finished trainings count...
RECENT_SECONDS = 15 * 60.0  # ...those that finished within this long
MIN_OBSERVED = 2  # one training alone may be an accident (a page's burst of work beside it)
SLOWEST, QUICKEST = 5.0, 0.5  # the factor's bounds: a stray ratio never makes the estimate absurd
# Within this band the estimate is left as it is: "about" already covers it, and a page that said
# "slower than usual" for 10 % would cry wolf.
SLOWER_FROM, QUICKER_FROM = 1.25, 0.8


class Pace:
    """The recent ratios of real to estimated seconds of one server's finished trainings."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock  # the tests pass their own: no timing
        self._ratios: deque[tuple[float, float]] = deque(maxlen=RECENT_TRAININGS)  # (when, real / estimate)
        self._lock = threading.Lock()  # every visitor's page reads it, the board's threads write it

    def observe(self, estimate: float | None, seconds: float) -> None:
        """A training finished in full: it took `seconds`, its page expected `estimate`."""
        if estimate is None or not estimate > 0 or not seconds > 0:
            return  # nothing to compare (a run started without an estimate, a result from the disk)
        with self._lock:
            self._ratios.append((self._clock(), seconds / estimate))

    def observed(self) -> list[float]:
        """The ratios that count now: the last RECENT_TRAININGS within RECENT_SECONDS."""
        now = self._clock()
        with self._lock:
            return [ratio for when, ratio in self._ratios if now - when <= RECENT_SECONDS]

    def factor(self) -> float:
        """What to multiply an estimate by: the median recent ratio, within QUICKEST..SLOWEST; 1.0 with
        fewer than MIN_OBSERVED recent trainings or a median within QUICKER_FROM..SLOWER_FROM."""
        ratios = self.observed()
        if len(ratios) < MIN_OBSERVED:
            return 1.0
        median = min(SLOWEST, max(QUICKEST, statistics.median(ratios)))
        return median if median >= SLOWER_FROM or median <= QUICKER_FROM else 1.0

    def seconds(self, estimate: float) -> float:
        """The estimate as this server will likely take it now."""
        return estimate * self.factor()

    def headline(self) -> str:
        """Why the estimates are scaled, short (a button's label): "" when they are not."""
        factor = self.factor()
        if factor == 1.0:
            return ""
        return f"this server is {'slower' if factor > 1 else 'quicker'} than usual right now"

    def note(self) -> str:
        """Why the estimates are scaled, with the measure, without a capital or a full stop (a page puts
        it in brackets after the number); "" when they are not."""
        headline = self.headline()
        return f"{headline}: recent trainings took {self.factor():.1f}× their estimate" if headline else ""

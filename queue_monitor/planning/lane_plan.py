"""Plan officer lanes minute by minute: as few lane-minutes as possible, every traveller served
within a deadline, lanes ready only after the opening delay and kept open a minimum time.

The sweep goes forward one minute at a time and opens, at each minute, the fewest lanes that
still let every later deadline be met if *all* allowed lanes were open from the next minute on
(the lanes already committed before the opening delay has passed, ``max_lanes`` after), counting
only the deadlines that lanes opened now can still help meet (travellers cannot be served
before they arrive, and a deadline missed even with every lane open is not a reason to open
lanes early). So work is
done as late as the deadlines allow ("just in time").

Just in time alone is wasteful when lanes must stay open a minimum time: a late burst of many
lanes clears the backlog and then idles until it may close. So at each minute the plan also
opens as many lanes as the work at hand keeps busy for that whole time (at every minute of it,
the queue plus the arrivals so far cover what those lanes could serve): those lanes never idle,
and they spare the burst. Lanes opened by the plan stay open
``min_open_min``; lanes that are already open and locked stay open until their own time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from queue_monitor.planning.forecast import QueueState, with_backlog

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_BUSY_WINDOW = 15  # minutes: the "busy lanes" horizon when lanes have no minimum open time


@dataclass(frozen=True, slots=True)
class LanePlan:
    lanes: IntArray  # planned lanes in each minute from now
    feasible: bool  # every deadline met within the allowed lanes
    first_short: int | None  # first minute at which more lanes than allowed were needed
    peak_needed: int  # most lanes needed in any minute (may exceed max_lanes when infeasible)


def plan_lanes(
    arrivals: FloatArray,
    state: QueueState,
    committed: IntArray,
    locked: IntArray,
    max_lanes: int,
    rate_per_lane_min: float,
    deadline_min: float,
    open_delay_min: float,
    min_open_min: float,
    floor: IntArray | None = None,
) -> LanePlan:
    """Plan lanes for ``arrivals`` per minute from now (see the module docstring).

    ``committed[i]``: lanes open in minute ``i`` without any new command (open now, or opening
    and ready by then); ``locked[i]``: those of them that may not close before minute ``i``;
    ``floor[i]`` (optional): at least this many lanes in minute ``i`` (a candidate decision).
    """
    horizon = arrivals.shape[0]
    pre = max(1, math.ceil(state.oldest_wait_min)) if state.length > 0 else 1
    full = with_backlog(arrivals, state, pre)
    cum_a = np.cumsum(full)
    w = max(0, math.floor(deadline_min))
    # due[k]: travellers whose deadline is at or before the end of grid minute k.
    due = np.concatenate([np.zeros(w), cum_a[: cum_a.shape[0] - w]])
    delay = math.ceil(open_delay_min)
    hold = math.ceil(min_open_min)
    busy_window = max(hold, MIN_BUSY_WINDOW)
    steps = np.arange(1, busy_window + 1, dtype=np.float64)
    allowed = np.where(np.arange(horizon) < delay, committed, max_lanes).astype(np.float64)
    cum_cap = np.concatenate([[0.0], np.cumsum(allowed * rate_per_lane_min)])
    plan = np.zeros(horizon, dtype=np.int64)
    plan_lock = np.zeros(horizon + hold + 1, dtype=np.int64)
    done = 0.0
    prev = int(committed[0]) if horizon else 0
    feasible = True
    first_short: int | None = None
    peak = 0
    for j in range(horizon):
        # Capacity from minute j + 1 to j + h, if everything allowed were open.
        later = cum_cap[j + 1 : horizon + 1] - cum_cap[j + 1]
        target = due[pre + j :]
        # Most that can have left by j + h whatever we do now: the queue cannot be served
        # before it arrives (min over i of arrivals by i plus capacity after i).
        reach = np.minimum.accumulate(cum_a[pre + j :] - later) + later
        helpable = reach >= target - 1e-6
        gap = np.where(helpable, target - done - later, 0.0)
        need = max(0, math.ceil(float(gap.max()) / rate_per_lane_min - 1e-9))
        peak = max(peak, need)
        upper = int(allowed[j])
        # Lanes that the work at hand (queue plus arrivals over the minimum open time) keeps
        # busy for their whole minimum open time: opening them now costs no idle minute, and
        # spares a later burst of lanes that would sit idle once the backlog is gone.
        busy = 0
        if j >= delay:
            ahead = cum_a[pre + j : pre + j + busy_window] - done
            span = steps[: ahead.shape[0]] * rate_per_lane_min
            busy = int(max(0.0, float((ahead / span).min())) + 1e-9)
        need = max(need, min(busy, upper))
        low = max(int(locked[j]), int(plan_lock[j]))
        if floor is not None:
            low = max(low, min(int(floor[j]), upper))
        n = max(need, low)
        if n > upper:
            if need > upper and feasible:
                feasible = False
                first_short = j
            n = max(upper, low)
        if n > prev and j >= delay:
            plan_lock[j : j + hold] += n - prev
        plan[j] = n
        prev = n
        done += min(n * rate_per_lane_min, float(cum_a[pre + j]) - done)
    return LanePlan(plan, feasible, first_short, peak)

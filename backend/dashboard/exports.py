"""CSV exports of a CST day: the wait samples and the clearances (no names, no document numbers).

Times are ISO 8601 in China Standard Time. A cell that a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``) is prefixed with ``'``: lane ids come from the kiosks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from backend.dashboard.models import WaitSample
from backend.dashboard.store import ClearanceLine
from backend.policy.clock import to_cst

WAIT_COLUMNS = (
    "time",
    "hall",
    "p95_wait_s",
    "mean_wait_s",
    "share_within_target",
    "target_s",
    "samples",
    "waiting_now",
    "egates_open",
    "officer_lanes_open",
)
CLEARANCE_COLUMNS = ("time", "hall", "lane", "outcome", "reasons", "scheme")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def waits_csv(samples: Iterable[WaitSample]) -> str:
    return _csv(
        WAIT_COLUMNS,
        (
            (
                to_cst(s.at).isoformat(),
                s.hall,
                s.p95_wait_s,
                s.mean_wait_s,
                s.share_within_target,
                s.target_s,
                s.samples,
                s.waiting_now,
                s.egates_open,
                s.officer_lanes_open,
            )
            for s in samples
        ),
    )


def clearances_csv(lines: Iterable[ClearanceLine]) -> str:
    return _csv(
        CLEARANCE_COLUMNS,
        (
            (
                to_cst(c.decided_at).isoformat(),
                c.hall,
                c.lane_id,
                c.outcome,
                ";".join(c.reasons),
                c.scheme,
            )
            for c in lines
        ),
    )

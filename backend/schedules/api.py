"""``POST /v1/schedules`` and ``GET /v1/schedules/{hall}``.

Operators post flights (on-block time, passengers, e-gate share) and ship calls (alongside time,
passengers, disembarkation rate) as they learn them; posting a call again replaces it, and a
``cancelled`` status removes it from the forecast. The queue monitor reads the schedule from
Redis at every decision.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from backend.api.deps import get_redis
from backend.api.errors import error_responses
from backend.auth.deps import require_feed
from backend.auth.feeds import FeedScope
from backend.auth.roles import Role
from bordergate.contracts import Hall, ScheduledArrival, schedule_key

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])
# The operator's feed posts (an admin may correct it by hand); the staff who plan read it.
operator_feed = require_feed(FeedScope.SCHEDULES, Role.ADMIN)
schedule_reader = require_feed(FeedScope.SCHEDULES, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrivals: list[ScheduledArrival] = Field(min_length=1, max_length=2000)


class ScheduleReceipt(BaseModel):
    stored: int
    cancelled: int


class HallSchedule(BaseModel):
    hall: Hall
    arrivals: list[ScheduledArrival]


@router.post(
    "",
    response_model=ScheduleReceipt,
    summary="Add, update or cancel scheduled flights and ship calls",
    responses=error_responses(401, 403, 413, 422, 503),
    dependencies=[Depends(operator_feed)],
)
async def post_schedule(
    update: ScheduleUpdate, redis: Redis = Depends(get_redis)
) -> ScheduleReceipt:
    stored = cancelled = 0
    async with redis.pipeline(transaction=True) as pipe:
        for arrival in update.arrivals:
            key = schedule_key(arrival.hall)
            if arrival.status == "cancelled":
                pipe.hdel(key, arrival.arrival_id)
                cancelled += 1
            else:
                pipe.hset(key, arrival.arrival_id, arrival.model_dump_json())
                stored += 1
        await pipe.execute()
    return ScheduleReceipt(stored=stored, cancelled=cancelled)


async def read_schedule(redis: Redis, hall: Hall) -> list[ScheduledArrival]:
    """The hall's scheduled arrivals, soonest first (unreadable entries are skipped)."""
    raw = await redis.hgetall(schedule_key(hall))
    arrivals = []
    for value in raw.values():
        try:
            arrivals.append(ScheduledArrival.model_validate_json(value))
        except ValueError:
            continue
    return sorted(arrivals, key=lambda a: a.at)


@router.get(
    "/{hall}",
    response_model=HallSchedule,
    summary="The flights and ship calls a hall expects",
    responses=error_responses(401, 403, 422, 503),
    dependencies=[Depends(schedule_reader)],
)
async def get_schedule(hall: Hall, redis: Redis = Depends(get_redis)) -> HallSchedule:
    return HallSchedule(hall=hall, arrivals=await read_schedule(redis, hall))

"""Work a running service does on its own:

- at start-up, import jobs left queued or running by a process that died are marked failed
  (INTERRUPTED, JOB-1 in registry/services/survey_import/jobs.py);
- on a timer (LEDGER_EXPIRY_SWEEP_SECONDS), the expiry of pending ledger transfers whose
  timeout has passed is recorded, so that what they held is released without a cron job;
- on a timer (EXCHANGE_SEND_SECONDS, when EXCHANGE_URL is set), the national exchange's outbox
  is sent to the provincial platform (EXCHANGE-8: one sender per county at a time, so every
  worker may run it).

Every worker process does both; they do not get in each other's way (a job's lock says
whether its runner lives; `expire_pending` skips transfers another transaction has locked,
and an expiry's id is derived from its pending transfer, so it is recorded once). A failed
sweep is logged and the next one tries again.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.exchange.sender import SenderConfig, send_round
from registry.services.ledger import Actor, expire_all_due
from registry.services.survey_import.jobs import mark_interrupted

log = logging.getLogger("registry.sweeper")
SWEEPER = Actor("registry-sweeper")  # the name its expiries carry in the ledger and audit log


def mark_interrupted_jobs(runtime: Runtime) -> list[int]:
    """JOB-1 at start-up: import jobs whose runner died with an earlier process say so."""
    try:
        with transaction(runtime.sessions) as session:
            interrupted = mark_interrupted(session, runtime.clock())
    except Exception:  # the database may be down at start; a poll marks each job anyway
        log.warning("import jobs not checked at start-up", exc_info=True)
        return []
    if interrupted:
        log.warning("import jobs interrupted by an earlier stop, marked failed: %s",
                    ", ".join(map(str, interrupted)))
    return interrupted


def sweep_once(runtime: Runtime) -> int:
    """One sweep; how many pending transfers expired."""
    expired = expire_all_due(runtime.sessions, SWEEPER, runtime.clock)
    if expired:
        log.info("%d pending ledger transfers expired", expired)
    return expired


async def sweep_forever(runtime: Runtime, every_seconds: float) -> None:
    """A sweep every `every_seconds`, until cancelled (the app's lifespan ends)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await run_in_threadpool(sweep_once, runtime)
        except Exception:  # the database may be away for a while: try again next time
            log.warning("ledger expiry sweep failed", exc_info=True)


def send_exchange_once(runtime: Runtime, config: SenderConfig) -> int:
    """One round of the exchange sender; how many messages were acknowledged."""
    report = send_round(runtime.sessions, config, runtime.clock)
    if report.attempted:
        log.info("exchange: %d sent, %d acknowledged, %d refused, %d failed",
                 report.attempted, report.acknowledged, report.refused, report.failed)
    return report.acknowledged


async def exchange_forever(runtime: Runtime, config: SenderConfig, every_seconds: float) -> None:
    """A round every `every_seconds`, until cancelled; the platform down is only logged."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await run_in_threadpool(send_exchange_once, runtime, config)
        except Exception:  # the database may be away for a while: try again next time
            log.warning("exchange send round failed", exc_info=True)

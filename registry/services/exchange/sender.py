"""Delivery to the provincial platform, at least once (EXCHANGE_URL).

- EXCHANGE-8 Per county, messages go in the order of the county's register (`entry_seq`);
  a message that failed (platform down, 5xx, timeout, an answer we cannot read) stops its
  county's round and is tried again after a backoff that doubles up to
  EXCHANGE_MAX_BACKOFF_SECONDS; the counties do not wait for one another. One sender per county
  at a time (a session advisory lock, so several workers and `registry exchange send` can run
  together; a process that dies releases it with its connection).
- EXCHANGE-9 Idempotent by message id: each POST carries the BizMsgID (header `X-Message-ID`
  and in the body); a message is resent until acknowledged, so the platform may see it twice
  (a crash after its answer, a timeout after it stored the message) and answers the repeat
  as a duplicate with its first receipt. The acknowledgement recorded is the first one.
- EXCHANGE-6 A message the platform refuses (4xx, or an answer `"status": "refused"`) is kept
  with its answer, state `refused`, listed by `registry exchange failed`, never dropped; it does
  not hold back the messages after it (`registry exchange retry` queues it again).

The wire protocol [unsure: the province's is not public]: `POST EXCHANGE_URL` with the XML body
(`application/xml`), `Authorization: Bearer EXCHANGE_TOKEN` and/or a client certificate; the
answer is JSON `{"status": "accepted" | "duplicate" | "refused", "receipt": "…", "reason": "…"}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from registry.db.exchange import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxState

log = logging.getLogger("registry.exchange")
ANSWER_KEPT = 4000  # characters of an answer stored per attempt
LOCK_NAMESPACE = 0x45584348  # "EXCH": advisory locks of the sender, one per county


@dataclass(frozen=True)
class SenderConfig:
    url: str
    token: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0
    retry_seconds: float = 5.0
    max_backoff_seconds: float = 600.0
    batch: int = 200

    @classmethod
    def from_settings(cls, settings: Any) -> SenderConfig | None:
        """None when EXCHANGE_URL is unset (the outbox fills, nothing is sent)."""
        if not settings.exchange_url:
            return None
        token = settings.exchange_token.get_secret_value() if settings.exchange_token else None
        return cls(url=settings.exchange_url, token=token,
                   client_cert=settings.exchange_client_cert,
                   client_key=settings.exchange_client_key,
                   ca_file=settings.exchange_ca_file,
                   timeout=settings.exchange_timeout_seconds,
                   retry_seconds=settings.exchange_retry_seconds,
                   max_backoff_seconds=settings.exchange_max_backoff_seconds)


@dataclass(frozen=True)
class Answer:
    outcome: AttemptOutcome
    http_status: int | None
    receipt: str | None
    text: str


def _context(config: SenderConfig) -> ssl.SSLContext | None:
    if not config.url.startswith("https:"):
        return None
    context = ssl.create_default_context(cafile=config.ca_file)
    if config.client_cert:
        context.load_cert_chain(config.client_cert, config.client_key)
    return context


# Not about the message: our credentials (401, 403), the platform busy (408, 429): tried again.
NOT_REFUSALS = frozenset({401, 403, 408, 429})


def _refusal(status: int) -> bool:
    return 400 <= status < 500 and status not in NOT_REFUSALS


def _read_answer(status: int, raw: bytes) -> Answer:
    body = raw.decode("utf-8", "replace")[:ANSWER_KEPT]
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        outcome = AttemptOutcome.REFUSED if _refusal(status) else AttemptOutcome.FAILED
        return Answer(outcome, status, None, body)
    said = parsed.get("status")
    receipt = parsed.get("receipt")
    receipt = str(receipt)[:128] if receipt else None
    if 200 <= status < 300 and said in ("accepted", "duplicate") and receipt:
        return Answer(AttemptOutcome.ACKNOWLEDGED, status, receipt, body)
    if said == "refused" or _refusal(status):
        return Answer(AttemptOutcome.REFUSED, status, None, body)
    return Answer(AttemptOutcome.FAILED, status, None, body)


def post(config: SenderConfig, message_id: str, body: str) -> Answer:
    """One POST of one message; never raises for what the network or the platform does."""
    headers = {"Content-Type": "application/xml; charset=utf-8", "X-Message-ID": message_id}
    if config.token:
        headers["Authorization"] = f"Bearer {config.token}"
    request = urllib.request.Request(config.url, data=body.encode(), headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout,
                                    context=_context(config)) as response:
            return _read_answer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        return _read_answer(exc.code, exc.read() or b"")
    except (OSError, TimeoutError, ValueError) as exc:  # down, refused, reset, timed out
        return Answer(AttemptOutcome.FAILED, None, None, f"{type(exc).__name__}: {exc}"[:400])


@dataclass
class RoundReport:
    attempted: int = 0
    acknowledged: int = 0
    refused: int = 0
    failed: int = 0
    counties: dict[str, int] = field(default_factory=dict)


def backoff(config: SenderConfig, attempts: int, message_id: str) -> timedelta:
    """Doubling delay, capped, spread a little by the message id (no thundering herd)."""
    spread = 0.75 + (zlib.crc32(message_id.encode()) % 500) / 1000
    delay = config.retry_seconds * (2 ** max(0, attempts - 1)) * spread
    return timedelta(seconds=min(config.max_backoff_seconds, delay))


def _lock_key(county: str) -> int:
    return (LOCK_NAMESPACE << 24) ^ int(county[:6])


def record_answer(session: Session, message: OutboxMessage, answer: Answer, at: datetime,
                  duration_ms: int, config: SenderConfig) -> None:
    """EXCHANGE-3: the attempt stored; the message's delivery state moved (EXCHANGE-9/6)."""
    session.add(DeliveryAttempt(outbox_id=message.id, at=at, outcome=answer.outcome,
                                http_status=answer.http_status, receipt=answer.receipt,
                                answer=answer.text, sent_sha256=message.body_sha256,
                                duration_ms=duration_ms))
    message.attempts += 1
    message.last_attempt_at = at
    message.answer = answer.text
    if message.state is OutboxState.ACKNOWLEDGED:  # a repeat: the first ack stays
        return
    if answer.outcome is AttemptOutcome.ACKNOWLEDGED:
        message.state = OutboxState.ACKNOWLEDGED
        message.acknowledged_at = at
        message.receipt = answer.receipt
        message.sent_sha256 = message.body_sha256
    elif answer.outcome is AttemptOutcome.REFUSED:
        message.state = OutboxState.REFUSED
    else:
        message.next_attempt_at = at + backoff(config, message.attempts, message.message_id)


def counties_due(session: Session, now: datetime) -> list[str]:
    return list(session.scalars(
        select(OutboxMessage.county_code).where(OutboxMessage.state == OutboxState.PENDING)
        .group_by(OutboxMessage.county_code)
        .having(func.min(OutboxMessage.next_attempt_at) <= now)
        .order_by(OutboxMessage.county_code)))


Poster = Callable[[SenderConfig, str, str], Answer]


def send_county(sessions: sessionmaker[Session], config: SenderConfig, county: str,
                clock: Callable[[], datetime], report: RoundReport,
                poster: Poster = post) -> None:
    """EXCHANGE-8 for one county: its pending messages in register order, until one fails."""
    with sessions() as locker:
        taken = locker.execute(text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": _lock_key(county)}).scalar_one()
        if not taken:
            return
        try:
            with sessions() as session:
                ids = list(session.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.county_code == county,
                                                   OutboxMessage.state == OutboxState.PENDING)
                    .order_by(OutboxMessage.entry_seq).limit(config.batch)))
            for outbox_id in ids:
                with sessions() as session, session.begin():
                    message = session.get(OutboxMessage, outbox_id, with_for_update=True)
                    assert message is not None
                    if message.state is not OutboxState.PENDING:
                        continue
                    if message.next_attempt_at > clock():
                        break  # the county's next message is waiting out its backoff
                    message_id = message.message_id
                    started = time.monotonic()
                    answer = poster(config, message_id, message.body)
                    duration = int((time.monotonic() - started) * 1000)
                    record_answer(session, message, answer, clock(), duration, config)
                report.attempted += 1
                report.counties[county] = report.counties.get(county, 0) + 1
                if answer.outcome is AttemptOutcome.ACKNOWLEDGED:
                    report.acknowledged += 1
                elif answer.outcome is AttemptOutcome.REFUSED:
                    report.refused += 1
                    log.warning("exchange message %s refused: %s", message_id,
                                answer.text[:200])
                else:
                    report.failed += 1
                    log.info("exchange message %s not delivered (%s), tried again later",
                             message_id, answer.text[:200])
                    break
        finally:
            locker.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(county)})
            locker.commit()


def send_round(sessions: sessionmaker[Session], config: SenderConfig,
               clock: Callable[[], datetime], poster: Poster = post) -> RoundReport:
    """One round over every county with a message due."""
    report = RoundReport()
    with sessions() as session:
        counties = counties_due(session, clock())
    for county in counties:
        send_county(sessions, config, county, clock, report, poster)
    return report


def send_until_idle(sessions: sessionmaker[Session], config: SenderConfig,
                    clock: Callable[[], datetime], poster: Poster = post,
                    max_rounds: int = 1000) -> RoundReport:
    """Rounds until nothing is due (failures wait out their backoff): `registry exchange send`."""
    total = RoundReport()
    for _ in range(max_rounds):
        report = send_round(sessions, config, clock, poster)
        for name in ("attempted", "acknowledged", "refused", "failed"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.attempted == 0:
            break
    return total


def retry_refused(session: Session, message_ids: list[str], now: datetime) -> int:
    """EXCHANGE-6: refused messages queued again (after the cause was fixed)."""
    rows = list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.message_id.in_(message_ids),
        OutboxMessage.state == OutboxState.REFUSED).with_for_update()))
    for row in rows:
        row.state = OutboxState.PENDING
        row.next_attempt_at = now
    return len(rows)


@dataclass(frozen=True)
class Backlog:
    unsent: int
    refused: int
    oldest_unsent_at: datetime | None
    by_county: dict[str, int]


def backlog(session: Session) -> Backlog:
    """What /metrics shows: unsent (pending) and refused messages, the oldest unsent one."""
    rows = session.execute(select(
        OutboxMessage.county_code, OutboxMessage.state, func.count(),
        func.min(OutboxMessage.created_at)).where(
        OutboxMessage.state != OutboxState.ACKNOWLEDGED)
        .group_by(OutboxMessage.county_code, OutboxMessage.state)).all()
    by_county: dict[str, int] = {}
    unsent = refused = 0
    oldest: datetime | None = None
    for county, state, count, first in rows:
        if state is OutboxState.PENDING:
            unsent += count
            by_county[county] = by_county.get(county, 0) + count
            oldest = first if oldest is None or first < oldest else oldest
        else:
            refused += count
    return Backlog(unsent, refused, oldest, by_county)


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()

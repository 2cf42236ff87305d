"""Certificate replacement (换证) and reissue (补证), 实施细则 §22 [likely]: the register's right
stays what it was; only the paper changes.

- CERT-2 A replacement names a standing (issued or printed, not voided) 不动产权证书 of the
  unit's current title (`certificateNumber`; CERTIFICATE_NOT_CURRENT, CERTIFICATE_VOIDED).
  换证 (`CERTIFICATE_REPLACEMENT`): the damaged certificate is returned. 补证
  (`CERTIFICATE_REISSUE`): the loss was published (`lossNoticeOn`, `lossNoticeMedium`) and at
  least the configured number of working days (Monday to Friday; `LOSS_NOTICE_WORKING_DAYS`,
  default 15; public holidays are not known to the register [unsure]) have passed by
  submission and again by recording (LOSS_NOTICE_PENDING).
- CERT-3 Recording replaces the title with a successor saying the same (holders, shares, right
  type and nature, term), its 附记 noting 换发/补发 and the old number; the old certificate is
  voided with the reason, its standing print (and that print's form serial) voided with it, and
  a new certificate number issued. The register entry lists the voided number. Proofs are not
  replaced this way yet (CERTIFICATE_NOT_REPLACEABLE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import CertificateKind
from registry.db.applications import Application, ApplicationKind
from registry.db.register import Certificate, CertificateStatus
from registry.db.rights import Right, RightKind, RightStatus
from registry.db.units import Unit
from registry.services.access import Principal
from registry.services.errors import DomainError, InvalidInput, NotFound
from registry.services.registration.certificates import void_certificate
from registry.services.timezone import local_date

REPLACES_CERTIFICATE = frozenset({ApplicationKind.CERTIFICATE_REPLACEMENT,
                                  ApplicationKind.CERTIFICATE_REISSUE})
LOSS_NOTICE_WORKING_DAYS = 15


@dataclass(frozen=True)
class ReplacementInput:
    certificate_number: str | None
    loss_notice_on: date | None
    loss_notice_medium: str | None


def working_days_between(start: date, end: date) -> int:
    """Monday-to-Friday days after `start` up to and including `end`."""
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        days += day.weekday() < 5
    return days


def _certificate(session: Session, unit: Unit, number: str | None) -> Certificate:
    if not number:
        raise InvalidInput("CERTIFICATE_REQUIRED", "须填写要换发或补发的证书号",
                           "name the certificate to replace (certificateNumber)")
    certificate = session.scalar(select(Certificate).where(Certificate.number == number.strip()))
    if certificate is None:
        raise NotFound("证书", "certificate", number[:64])
    if certificate.status is CertificateStatus.VOIDED:
        raise DomainError("CERTIFICATE_VOIDED", "该证书已作废，不能换发或补发",
                          "the certificate is voided", {"number": certificate.number})
    if certificate.kind is not CertificateKind.RIGHT:
        raise DomainError("CERTIFICATE_NOT_REPLACEABLE", "暂只能换发、补发不动产权证书",
                          "only title certificates are replaced this way",
                          {"number": certificate.number})
    right = session.get(Right, certificate.right_id)
    assert right is not None
    if (right.unit_id != unit.id or right.kind is not RightKind.TITLE
            or right.status is not RightStatus.CURRENT):
        raise DomainError("CERTIFICATE_NOT_CURRENT", "该证书不是本单元现势权利的证书",
                          "the certificate is not that of the unit's current title",
                          {"number": certificate.number, "unit": unit.code})
    return certificate


def _wait_over(notice_on: date, days_required: int, today: date) -> None:
    waited = working_days_between(notice_on, today)
    if waited < days_required:
        raise DomainError("LOSS_NOTICE_PENDING",
                          f"遗失声明公告期未满（已满{waited}个工作日，须{days_required}个）",
                          f"the loss notice has run {waited} of {days_required} working days",
                          {"waited": waited, "required": days_required})


def check_and_terms(session: Session, kind: ApplicationKind, unit: Unit,
                    data: ReplacementInput, now: datetime,
                    days_required: int = LOSS_NOTICE_WORKING_DAYS) -> dict[str, Any]:
    """CERT-2 at submission: the certificate, the loss notice; the case's terms (the title's
    own, for its successor: CERT-3)."""
    certificate = _certificate(session, unit, data.certificate_number)
    right = session.get(Right, certificate.right_id)
    assert right is not None
    terms: dict[str, Any] = {"certificate": certificate.number}
    if kind is ApplicationKind.CERTIFICATE_REISSUE:
        medium = (data.loss_notice_medium or "").strip()
        if data.loss_notice_on is None or not medium:
            raise InvalidInput("LOSS_NOTICE_REQUIRED", "补证须填写遗失声明的刊登日期和媒体",
                               "a reissue names the loss notice (lossNoticeOn, "
                               "lossNoticeMedium)")
        if data.loss_notice_on > local_date(now):
            raise InvalidInput("INVALID_TERM", "遗失声明日期晚于今天",
                               "the loss notice is dated in the future")
        _wait_over(data.loss_notice_on, days_required, local_date(now))
        terms |= {"loss_notice_on": data.loss_notice_on.isoformat(),
                  "loss_notice_medium": medium[:200], "loss_notice_days": days_required}
    how = ("补发" if kind is ApplicationKind.CERTIFICATE_REISSUE else "换发")
    note = f"{how}，原证书{certificate.number}作废"
    terms |= {"co_ownership": right.co_ownership.value, "right_type": right.right_type,
              "right_nature": right.right_nature,
              "term_start": right.term_start.isoformat() if right.term_start else None,
              "term_end": right.term_end.isoformat() if right.term_end else None,
              "right_note": f"{right.note}；{note}" if right.note else note}
    return terms


def check_at_recording(application: Application, now: datetime) -> None:
    """CERT-2 again under the recording's locks: the loss notice's period is over."""
    terms = application.terms
    if application.kind is ApplicationKind.CERTIFICATE_REISSUE:
        _wait_over(date.fromisoformat(terms["loss_notice_on"]), int(terms["loss_notice_days"]),
                   local_date(now))


def void_replaced(session: Session, application: Application, now: datetime,
                  actor: Principal) -> dict[str, str]:
    """CERT-3: the old certificate voided with its reason, and its standing print (with the
    form serial it used); what the register entry says of it."""
    number = application.terms["certificate"]
    reason = ("补证：遗失，已登报声明作废（" + application.terms["loss_notice_medium"] + "，"
              + application.terms["loss_notice_on"] + "）"
              if application.kind is ApplicationKind.CERTIFICATE_REISSUE
              else "换证：证书损坏，已收回")
    return void_certificate(session, actor, number, reason, now)

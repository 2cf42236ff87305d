"""Certificate and proof numbers (CERT-1): `川(2026)平昌县不动产权第0000001号`.

The issuing authority of a county comes from `issuing_authorities`; the year is the year of
recording in China Standard Time; the serial is the next of the (authority, year, kind) series,
taken in the recording transaction (services/numbers.py), so numbers are consecutive in commit
order and never skipped. Printing (缮证/发证) is the `certify` step of the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.codes import CertificateKind, format_certificate_number
from registry.db.applications import Application
from registry.db.papers import PrintedPaper
from registry.db.register import Certificate, CertificateStatus, IssuingAuthority
from registry.db.rights import Right
from registry.services.access import Principal
from registry.services.errors import DomainError
from registry.services.numbers import next_number
from registry.services.papers import void_print
from registry.services.timezone import local_date


@dataclass(frozen=True)
class ReservedNumber:
    """A certificate number taken from its series, not yet attached to a right."""

    number: str
    kind: CertificateKind
    authority: str
    year: int
    serial: int


def issuing_authority(session: Session, county_code: str) -> IssuingAuthority:
    """Who issues the county's papers (NO_ISSUING_AUTHORITY when not configured)."""
    authority = session.get(IssuingAuthority, county_code)
    if authority is None:
        raise DomainError("NO_ISSUING_AUTHORITY", f"未配置发证机关：{county_code}",
                          f"no issuing authority configured for county {county_code}")
    return authority


def reserve_number(session: Session, county_code: str, kind: CertificateKind,
                   now: datetime) -> ReservedNumber:
    """The next number of the county authority's series for this year (CERT-1)."""
    authority = issuing_authority(session, county_code)
    year = local_date(now).year
    serial = next_number(session, f"certificate:{authority.name}:{year}:{kind.name}")
    number = format_certificate_number(authority.province, year, authority.name, kind, serial)
    return ReservedNumber(number=number, kind=kind, authority=authority.name, year=year,
                          serial=serial)


def issue_certificate(session: Session, reserved: ReservedNumber, right: Right,
                      application: Application, now: datetime) -> Certificate:
    """The certificate record for a right recorded with a reserved number."""
    certificate = Certificate(number=reserved.number, kind=reserved.kind,
                              authority=reserved.authority, year=reserved.year,
                              serial=reserved.serial, right_id=right.id,
                              application_id=application.id, status=CertificateStatus.ISSUED,
                              issued_at=now)
    session.add(certificate)
    return certificate


def void_certificate(session: Session, actor: Principal, number: str, reason: str,
                     now: datetime) -> dict[str, str]:
    """A certificate voided with its reason, and its standing print with the form serial it
    used (换证/补证: CERT-3; 分割/合并: CARRY-1); what the register entry says of it."""
    certificate = session.scalar(select(Certificate).where(Certificate.number == number)
                                 .with_for_update())
    assert certificate is not None
    certificate.status, certificate.void_reason = CertificateStatus.VOIDED, reason
    printed = session.scalar(select(PrintedPaper).where(
        PrintedPaper.certificate_id == certificate.id, PrintedPaper.voided_at.is_(None))
        .with_for_update())
    if printed is not None:
        void_print(session, actor, printed, reason, now)
    return {"certificate": number, "reason": reason}


def mark_printed(session: Session, application_id: int, now: datetime) -> int:
    """缮证: the case's certificates are printed and handed over."""
    result = session.execute(
        update(Certificate).where(Certificate.application_id == application_id,
                                  Certificate.status == CertificateStatus.ISSUED)
        .values(status=CertificateStatus.PRINTED, printed_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def certify(session: Session, principal: Principal | None, number: str, now: datetime,
            request_id: str | None = None) -> Application:
    """缮证、发证: the case's certificates are printed (PRINT-4 in services/papers.py); the case
    is `certified`."""
    # applications.py imports this module (through replacement.py): take_step comes late.
    from registry.services.papers import require_printed
    from registry.services.registration.applications import take_step

    application = take_step(session, principal, number, "certify", now, request_id)
    require_printed(session, application.id)
    mark_printed(session, application.id, now)
    return application

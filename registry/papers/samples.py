"""`registry papers print --demo-sample`: one paper of each kind from the register."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.codes import CertificateKind
from registry.db.register import Certificate, CertificateStatus
from registry.db.rights import Right, RightStatus
from registry.db.units import Unit


def sample_numbers(session: Session) -> list[str]:
    """The first title certificate of each unit kind, then the first proof (not voided)."""
    live = (Certificate.status != CertificateStatus.VOIDED) & Certificate.right_id.in_(
        select(Right.id).where(Right.status == RightStatus.CURRENT))
    titles = session.execute(
        select(Unit.kind, func.min(Certificate.number))
        .join(Right, Right.id == Certificate.right_id).join(Unit, Unit.id == Right.unit_id)
        .where(live, Certificate.kind == CertificateKind.RIGHT)
        .group_by(Unit.kind).order_by(Unit.kind)).all()
    proof = session.scalar(select(func.min(Certificate.number)).where(
        live, Certificate.kind == CertificateKind.PROOF))
    return [number for _, number in titles] + ([proof] if proof else [])


def unit_of_certificate(session: Session, number: str) -> str:
    """The code of the unit a certificate's right is on."""
    code = session.scalar(select(Unit.code).join(Right, Right.unit_id == Unit.id)
                          .join(Certificate, Certificate.right_id == Right.id)
                          .where(Certificate.number == number))
    assert code is not None
    return code

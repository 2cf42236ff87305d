"""SQLAlchemy models (one module per aggregate) and session handling."""

from registry.db.base import Base
from registry.db.reference import Division, DivisionLevel, LandUseCode

__all__ = ["Base", "Division", "DivisionLevel", "LandUseCode"]

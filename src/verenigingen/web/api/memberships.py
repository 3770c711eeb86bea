"""/api/v1/memberships"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/memberships", tags=["memberships"])

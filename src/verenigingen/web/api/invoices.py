"""/api/v1/invoices"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/invoices", tags=["invoices"])

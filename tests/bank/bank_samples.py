"""The made-up statement files of ``files/`` and the association's accounts they are of."""

from __future__ import annotations

from pathlib import Path

FILES = Path(__file__).parent / "files"

ING = "NL20INGB0001234567"
RABOBANK = "NL39RABO0300065264"
ABN_AMRO = "NL91ABNA0417164300"
TRIODOS = "NL63TRIO0212345678"


def sample(name: str) -> bytes:
    return (FILES / name).read_bytes()

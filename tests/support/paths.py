"""Where things are in the repository, for tests that read its files or run its commands."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO"]

REPO = Path(__file__).resolve().parents[2]

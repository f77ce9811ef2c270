"""initlab: understand, verify and port neural-network weight initialization."""

from __future__ import annotations

__version__ = "0.1.0"

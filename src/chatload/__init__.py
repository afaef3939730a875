"""chatload: load and soak testing for the WebSocket chat of an events platform."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"

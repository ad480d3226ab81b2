"""notifications: chat (being built; see issue 6)."""

from __future__ import annotations

"""notifications: settings_page (being built; see issue 6)."""

from __future__ import annotations

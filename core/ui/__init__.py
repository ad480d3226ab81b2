"""Reusable pieces of the web UI that addons declare rather than write.

- :mod:`core.ui.listview`: the list page (search, filters, sort, keyset pagination, bulk
  actions, htmx refresh) and :mod:`core.ui.export` (CSV / XLSX, streamed).

See ``docs/ui.md`` for how an addon uses them.
"""

from __future__ import annotations

from core.ui.listview import (
    BooleanFilter,
    BulkAction,
    ChoiceFilter,
    Column,
    DateRangeFilter,
    ListPage,
    ListView,
    RelatedFilter,
)

__all__ = [
    "BooleanFilter",
    "BulkAction",
    "ChoiceFilter",
    "Column",
    "DateRangeFilter",
    "ListPage",
    "ListView",
    "RelatedFilter",
]

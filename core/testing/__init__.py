"""Testing kit for Vitrylo and for partners' addons: fixtures (``core.testing.plugin``)
and the addon contract (``core.testing.contract``)."""

from core.testing.databases import drop_database, fresh_database_url

__all__ = ["drop_database", "fresh_database_url"]

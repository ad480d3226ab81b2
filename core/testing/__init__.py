"""Testing kit for Vitrylo and for partners' addons: fixtures (``core.testing.plugin``)
and the addon contract (``core.testing.contract``)."""

from core.testing.databases import fresh_database_url, drop_database

__all__ = ["drop_database", "fresh_database_url"]

"""Vitrylo's bundled addons, one sub-package each (see ``docs/addons.md``)."""

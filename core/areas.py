"""Addons split into area modules: an addon's ``__init__`` names them in ``AREAS``, and
each adds its routes to the addon's one blueprint (``<addon>.views.bp``) when imported,
and may define functions named after the hooks it feeds.

- :func:`import_areas` imports them (once: Python caches modules) and returns them;
- :func:`area_blueprints` is the ``blueprints`` hook of such an addon: its blueprint,
  returned once every area has put its routes on it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

from flask import Blueprint


def import_areas(package: str, names: Iterable[str]) -> list[ModuleType]:
    """The modules ``<package>.<name>`` for each of ``names``, in that order."""
    return [importlib.import_module(f"{package}.{name}") for name in names]


def area_blueprints(package: str, names: Iterable[str]) -> list[Blueprint]:
    """``[<package>.views.bp]`` with the routes of every area in ``names`` on it."""
    import_areas(package, names)
    return [importlib.import_module(f"{package}.views").bp]

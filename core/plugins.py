"""Building the plugin manager: the core's own plugin plus every discovered addon."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import pluggy

from core import hookspecs
from core.facade import CORE_PLUGIN
from core.loader import AddonInfo


class AddonLoadError(Exception):
    """An addon's code could not be imported or implements a hook that does not exist."""


def build_plugin_manager(available: Mapping[str, AddonInfo]) -> pluggy.PluginManager:
    """Import every available addon and register it under its own name.

    ``check_pending()`` runs at the end, so a misspelled hook fails loudly here, with the
    addon's name, instead of being silently never called.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    from core import web_plugin

    pm.register(web_plugin, name=CORE_PLUGIN)
    for name, info in available.items():
        try:
            module = importlib.import_module(info.module)
        except Exception as exc:
            raise AddonLoadError(f"addon '{name}' ({info.path}) failed to import: {exc}") from exc
        try:
            pm.register(module, name=name)
        except pluggy.PluginValidationError as exc:
            raise AddonLoadError(f"addon '{name}': {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        plugin = pm.get_name(exc.plugin) if exc.plugin is not None else "?"
        raise AddonLoadError(f"addon '{plugin}': {exc}") from exc
    return pm

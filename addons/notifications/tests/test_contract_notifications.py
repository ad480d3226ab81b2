"""The notifications addon keeps the addon contract (manifest, hooks, routes, migrations)."""

from core.testing.contract import AddonContract


class TestNotificationsContract(AddonContract):
    addon = "notifications"

"""The sales addon keeps the addon contract (manifest, hooks, routes, migrations), installed
under a test licence as a commercial addon is."""

from core.testing.contract import AddonContract


class TestSalesContract(AddonContract):
    addon = "sales"

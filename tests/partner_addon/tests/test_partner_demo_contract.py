"""The addon contract, run by the partner against their own addon."""

from core.testing.contract import AddonContract


class TestContract(AddonContract):
    addon = "partner_demo"

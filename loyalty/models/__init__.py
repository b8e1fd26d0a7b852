"""Loyalty domain models; see each module's docstring for its invariants."""

from .ledger import LedgerEntry, LotAllocation, PointAccount, PointCurrency, PointLot
from .purchases import Purchase, PurchaseLine, PurchaseRefund
from .rewards import Coupon, Redemption, Reward
from .rules import EarnRule

__all__ = [
    "Coupon",
    "EarnRule",
    "LedgerEntry",
    "LotAllocation",
    "PointAccount",
    "PointCurrency",
    "PointLot",
    "Purchase",
    "PurchaseLine",
    "PurchaseRefund",
    "Redemption",
    "Reward",
]

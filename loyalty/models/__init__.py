"""Loyalty domain models; see each module's docstring for its invariants."""

from .cashier import CashierAction
from .ledger import LedgerEntry, LotAllocation, PointAccount, PointCurrency, PointLot
from .purchases import Purchase, PurchaseLine, PurchaseRefund
from .rewards import Coupon, Redemption, Reward
from .rules import EarnRule

__all__ = [
    "CashierAction",
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

"""Loyalty domain models; see each module's docstring for its invariants."""

from .cashier import CashierAction
from .events import ParkedEvents
from .expiry import ExpiryReminder, JobRun
from .ledger import LedgerEntry, LotAllocation, PointAccount, PointCurrency, PointLot
from .purchases import Purchase, PurchaseLine, PurchaseRefund
from .rewards import Coupon, Redemption, Reward
from .rules import EarnPolicy, EarnRule, Promotion, PromotionAward
from .tiers import MemberTier, Tier, TierChange, TierProgram

__all__ = [
    "CashierAction",
    "Coupon",
    "EarnPolicy",
    "EarnRule",
    "ExpiryReminder",
    "JobRun",
    "LedgerEntry",
    "LotAllocation",
    "MemberTier",
    "ParkedEvents",
    "PointAccount",
    "PointCurrency",
    "PointLot",
    "Promotion",
    "PromotionAward",
    "Purchase",
    "PurchaseLine",
    "PurchaseRefund",
    "Redemption",
    "Reward",
    "Tier",
    "TierChange",
    "TierProgram",
]

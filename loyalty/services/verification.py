"""Set-based proof of the ledger invariants (used by ``manage.py verify_ledger`` and tests).

1. ``account.balance == sum(entries.amount)``
2. every entry's ``balance_after`` equals the running sum of its account's entries
3. ``lot.remaining == lot.amount - sum(allocations)``
4. every debit entry is covered by allocations of exactly its amount
5. ``account.balance == sum(lot.remaining)``
"""

from dataclasses import dataclass

from django.db import connection

from loyalty.models import LedgerEntry, LotAllocation, PointAccount, PointLot

A, E, L, X = (m._meta.db_table for m in (PointAccount, LedgerEntry, PointLot, LotAllocation))

CHECKS = {
    "balance_vs_entries": f"""
        SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0) FROM {A} a LEFT JOIN {E} e ON e.account_id = a.id
        GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(e.amount), 0)""",
    "running_balance": f"""
        SELECT account_id, id, balance_after, running FROM (
          SELECT account_id, id, balance_after,
                 SUM(amount) OVER (PARTITION BY account_id ORDER BY id) AS running FROM {E}) t
        WHERE balance_after <> running""",
    "lot_remaining_vs_allocations": f"""
        SELECT l.id, l.remaining, l.amount - COALESCE(SUM(x.amount), 0) FROM {L} l
        LEFT JOIN {X} x ON x.lot_id = l.id GROUP BY l.id, l.remaining, l.amount
        HAVING l.remaining <> l.amount - COALESCE(SUM(x.amount), 0)""",
    "debit_vs_allocations": f"""
        SELECT e.id, e.amount, COALESCE(SUM(x.amount), 0) FROM {E} e LEFT JOIN {X} x ON x.entry_id = e.id
        WHERE e.amount < 0 GROUP BY e.id, e.amount HAVING -e.amount <> COALESCE(SUM(x.amount), 0)""",
    "balance_vs_lots": f"""
        SELECT a.id, a.balance, COALESCE(SUM(l.remaining), 0) FROM {A} a LEFT JOIN {L} l ON l.account_id = a.id
        GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(l.remaining), 0)""",
}


@dataclass(frozen=True)
class Mismatch:
    check: str
    row: tuple

    def __str__(self) -> str:
        return f"{self.check}: {self.row}"


def ledger_mismatches() -> list[Mismatch]:
    """Every row that breaks an invariant; empty when the ledger is sound."""
    found = []
    with connection.cursor() as cursor:
        for name, sql in CHECKS.items():
            cursor.execute(sql)
            found.extend(Mismatch(name, tuple(row)) for row in cursor.fetchall())
    return found

"""Loyalty writes. ``ledger.points_post`` is the only path that changes points."""

"""Missions admin (issue 8)."""

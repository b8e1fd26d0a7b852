"""Missions: domain-event subscribers (issue 8)."""

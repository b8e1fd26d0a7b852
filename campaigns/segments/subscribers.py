"""Segments: domain-event subscribers (issue 9)."""

"""Segments admin (issue 9)."""

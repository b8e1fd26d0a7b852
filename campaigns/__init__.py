"""Campaigns: missions, lucky draws, top-spender races, segments and broadcasts (later issues)."""

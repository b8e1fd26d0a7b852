"""PDPA consent documents, the append-only consent log and data-subject requests (later issue)."""

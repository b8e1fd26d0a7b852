"""One-time claim codes (QR on packaging or receipts)."""

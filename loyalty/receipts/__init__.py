"""Receipt photo upload, OCR, review and earning."""

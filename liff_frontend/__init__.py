"""The LIFF member portal and the cashier page (later issues)."""

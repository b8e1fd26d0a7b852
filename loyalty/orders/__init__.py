"""E-commerce order webhooks and marketplace order imports."""

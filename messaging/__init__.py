"""LINE webhook, outbound messaging with retries and rich menus (later issue)."""

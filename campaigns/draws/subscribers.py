"""Lucky draws: domain-event subscribers.

None yet: draws do not react to purchases by themselves. Other campaigns (missions,
activities) give tickets by calling ``campaigns.draws.services.draw_tickets_grant`` with
their own idempotency key.
"""

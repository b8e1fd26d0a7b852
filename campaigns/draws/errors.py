"""Lucky-draw domain errors (stable codes, Thai/English messages)."""

from django.utils.translation import gettext_lazy as _

from config.domain import Conflict, DomainError, NotFound, ValidationFailed


class DrawNotFound(NotFound):
    code = "draw_not_found"
    message = _("No lucky draw with this ID.")


class DrawNotOpen(DomainError):
    code = "draw_not_open"
    message = _("This lucky draw is not taking entries now.")


class DrawNotForMember(DomainError):
    code = "draw_not_for_member"
    message = _("This lucky draw is for members of other tiers.")


class TicketsNotForSale(DomainError):
    code = "draw_tickets_not_for_sale"
    message = _("Tickets for this lucky draw cannot be bought with points.")


class TicketLimitReached(DomainError):
    code = "draw_ticket_limit"
    message = _("You can buy at most %(limit)s tickets for this lucky draw; you have %(bought)s.")

    def __init__(self, *, limit: int, bought: int):
        super().__init__(self.message % {"limit": limit, "bought": bought}, limit=limit, bought=bought)


class InvalidTicketCount(ValidationFailed):
    code = "draw_invalid_ticket_count"
    message = _("Choose at least one ticket.")


class DrawStateConflict(Conflict):
    code = "draw_state_conflict"
    message = _("This lucky draw cannot do that in its current state.")

"""The member card's QR payload: signed and short-lived, so a screenshot is useless later.

A token is ``<brand id>.<member id>:<timestamp>:<signature>`` (Django's ``TimestampSigner``
with its own salt). The card page fetches a fresh one every ``ROTATE_SECONDS``; the server
accepts it for ``VALID_SECONDS`` (a little longer, for a slow scan) and rejects tampered,
expired or other-brand tokens.
"""

import io
import re

import qrcode
import qrcode.image.svg
from django.core import signing
from django.utils.translation import gettext_lazy as _

from config.domain import DomainError

from .models import Brand, Member

SALT = "taem.member-card.v1"
ROTATE_SECONDS = 60
VALID_SECONDS = 90


class CardInvalid(DomainError):
    code = "card_invalid"
    message = _("This member QR code is not valid.")


class CardExpired(DomainError):
    code = "card_expired"
    message = _("This member QR code has expired. Ask the member to refresh their card.")


def card_token(member: Member) -> str:
    return signing.TimestampSigner(salt=SALT).sign(f"{member.brand_id}.{member.pk}")


def card_verify(*, brand: Brand, token: str) -> Member:
    """The brand's active or pending member a fresh card token names, or ``CardInvalid``/``CardExpired``."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token.strip(), max_age=VALID_SECONDS)
    except signing.SignatureExpired as error:
        raise CardExpired() from error
    except signing.BadSignature as error:
        raise CardInvalid() from error
    brand_id, _sep, member_id = value.partition(".")
    if brand_id != str(brand.pk) or not member_id.isdigit():
        raise CardInvalid()
    member = Member.objects.filter(brand=brand, pk=int(member_id)).first()
    if member is None or member.status in (Member.Status.MERGED, Member.Status.SUSPENDED):
        raise CardInvalid()
    return member


def qr_svg(payload: str, *, box_size: int = 10) -> str:
    """An inline SVG QR code (no image request, fixed viewBox: no layout shift when it changes)."""
    image = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg[svg.index("<svg"):]
    # Sized by CSS (a fixed square box), not by the generator's millimetres.
    return re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg role="img" aria-label="QR"', svg, count=1)

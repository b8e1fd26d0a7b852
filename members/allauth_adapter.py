"""LINE Login on the web (django-allauth) ends at the same ``User`` and ``Member`` as LIFF.

Both paths key on the LINE user id: LIFF creates ``SocialAccount(provider="line", uid=sub)``
for its user (``member_line_login``), so allauth finds that user on a later web login; a
first web login creates the user here and links the member the same way.
"""

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings

from .models import Brand
from .services import member_line_login


def line_login_brand(client_id: str | None = None) -> Brand | None:
    if settings.LINE_LOGIN_BRAND:
        return Brand.objects.filter(slug=settings.LINE_LOGIN_BRAND).first()
    if client_id:
        return Brand.objects.filter(line_login_channel_id=client_id).first()
    return None


class LineMemberAdapter(DefaultSocialAccountAdapter):
    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        if sociallogin.account.provider == "line":
            brand = line_login_brand(getattr(sociallogin.account.get_provider().app, "client_id", None))
            if brand is not None:
                data = sociallogin.account.extra_data or {}
                member_line_login(brand=brand, line_user_id=sociallogin.account.uid,
                                  display_name=data.get("displayName") or data.get("name") or "",
                                  picture_url=data.get("pictureUrl") or data.get("picture") or "")
        return user

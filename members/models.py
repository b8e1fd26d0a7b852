"""Brands, branches, members, staff assignments and integration API keys.

Design overview
- Every brand-owned row carries ``brand``; uniqueness (member code, phone, LINE user id,
  branch code) is per brand, enforced by database constraints.
- A ``Member`` is either *pending* (known only by a phone number, e.g. earned at a POS
  before registering) or *active* (registered, linked one-to-one to a Django ``User``).
- ``StaffAssignment`` scopes staff users to brands (and cashiers to branches later);
  selectors and the admin read it so no view scopes by hand.
- ``ApiKey`` authenticates machines: only the SHA-256 digest of the key is stored; the
  plaintext is shown once, when the key is created.
"""

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel
from config.crypto import EncryptedTextField

MEMBER_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a till


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Brand(TimeStamped):
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    line_channel_id = models.CharField(_("LINE channel ID"), max_length=64, blank=True)
    line_channel_secret = EncryptedTextField(_("LINE channel secret"), blank=True)
    line_channel_access_token = EncryptedTextField(_("LINE channel access token"), blank=True)
    line_login_channel_id = models.CharField(
        _("LINE Login channel ID"), max_length=64, blank=True,
        help_text=_("The LINE Login channel that hosts the LIFF apps (same provider as the OA)."),
    )
    liff_id = models.CharField(_("LIFF ID"), max_length=64, blank=True)
    embed_origins = models.TextField(
        _("embed origins"), blank=True,
        help_text=_("Websites allowed to embed the member card, one origin per line (https://shop.example.com)."),
    )

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Branch(TimeStamped):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="branches")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["brand", "code"]
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="branch_code_unique_per_brand")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class StaffAssignment(TimeStamped):
    """A staff user's access to one brand. Superusers see every brand without one."""

    class Role(models.TextChoices):
        MANAGER = "manager", _("Manager")
        SUPERVISOR = "supervisor", _("Supervisor")
        CASHIER = "cashier", _("Cashier")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="brand_assignments")
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="staff_assignments")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MANAGER)
    branches = models.ManyToManyField(Branch, blank=True, verbose_name=_("branches"))

    class Meta:
        verbose_name = _("staff assignment")
        verbose_name_plural = _("staff assignments")
        constraints = [models.UniqueConstraint(fields=["user", "brand"], name="staff_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.brand} ({self.get_role_display()})"


def generate_member_code(length: int = 8) -> str:
    return "".join(secrets.choice(MEMBER_CODE_ALPHABET) for _ in range(length))


class Member(TimeStamped):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (not registered)")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        MERGED = "merged", _("Merged into another member")

    class Gender(models.TextChoices):
        UNSPECIFIED = "", _("Not specified")
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="member"
    )
    code = models.CharField(_("member code"), max_length=16, default=generate_member_code)
    line_user_id = models.CharField(_("LINE user ID"), max_length=64, null=True, blank=True)  # noqa: DJ001 - NULL = none; unique when set
    phone = models.CharField(_("phone (E.164)"), max_length=20, null=True, blank=True)  # noqa: DJ001 - NULL = none; unique when set
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="th")
    line_reachable = models.BooleanField(
        _("reachable on LINE"), default=False,
        help_text=_("Follows the Official Account; cleared when they block it, set again when they follow."),
    )
    line_followed_at = models.DateTimeField(_("followed the OA at"), null=True, blank=True)
    line_unfollowed_at = models.DateTimeField(_("blocked the OA at"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_members",
        verbose_name=_("merged into"),
    )

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="member_code_unique_per_brand"),
            models.UniqueConstraint(
                fields=["brand", "phone"], condition=Q(phone__isnull=False), name="member_phone_unique_per_brand"
            ),
            models.UniqueConstraint(
                fields=["brand", "line_user_id"],
                condition=Q(line_user_id__isnull=False),
                name="member_line_user_unique_per_brand",
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "status"], name="member_brand_status"),
            # Segment counts: every member id in id order with its brand, merged members left out,
            # read index-only (merge and hash joins with the side tables, no heap visit).
            models.Index(fields=["id"], include=["brand"], condition=~Q(status="merged"), name="member_segment_ids"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or self.display_name or self.phone or self.code} [{self.code}]"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ApiKey(TimeStamped):
    """A machine credential scoped to one brand and optionally one branch."""

    PREFIX = "taem"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="api_keys")
    branch = models.ForeignKey(
        Branch,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text=_("When set, the key can only record purchases for this branch."),
    )
    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(
        _("channel"), max_length=16, default="pos",
        choices=[("pos", _("POS")), ("ecommerce", _("E-commerce")), ("marketplace", _("Marketplace"))],
        help_text=_("The earn channel of every purchase this key records (order IDs are unique per channel)."),
    )
    key_prefix = models.CharField(_("key prefix"), max_length=16, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["brand", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    def clean(self):
        if self.branch_id and self.brand_id and self.branch.brand_id != self.brand_id:
            raise ValidationError({"branch": _("The branch must belong to the key's brand.")})

    @staticmethod
    def digest(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def new_raw_key(cls) -> str:
        return f"{cls.PREFIX}_{secrets.token_urlsafe(32)}"

    def set_key(self, raw_key: str) -> None:
        self.key_digest = self.digest(raw_key)
        self.key_prefix = raw_key[: len(self.PREFIX) + 7]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None or self.revoked_at > timezone.now()


class ProfileField(TimeStamped):
    """A staff-defined registration/profile field (e.g. interests, preferred channel)."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Single choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="profile_fields")
    key = models.SlugField(_("key"), max_length=50)
    label_th = models.CharField(_("label (Thai)"), max_length=200)
    label_en = models.CharField(_("label (English)"), max_length=200, blank=True)
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.TEXT)
    choices = models.JSONField(
        _("choices"), default=list, blank=True,
        help_text=_('For choice types: [{"value": "coffee", "th": "กาแฟ", "en": "Coffee"}, …]'),
    )
    required = models.BooleanField(_("required"), default=False)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("profile field")
        verbose_name_plural = _("profile fields")
        ordering = ["brand", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="profile_field_key_unique_per_brand")]

    def __str__(self) -> str:
        return f"{self.label_th} ({self.key})"

    def label(self, language: str) -> str:
        return self.label_en if language == "en" and self.label_en else self.label_th

    def choice_label(self, value: str, language: str) -> str:
        for choice in self.choices:
            if choice.get("value") == value:
                return choice.get("en") if language == "en" and choice.get("en") else choice.get("th", value)
        return value


class MemberChange(AppendOnlyModel):
    """Audit of profile changes (append-only): who changed what, from what, to what, where."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(_("field"), max_length=100)
    old_value = models.TextField(_("old value"), blank=True)
    new_value = models.TextField(_("new value"), blank=True)
    channel = models.CharField(_("channel"), max_length=16, default="liff")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member change")
        verbose_name_plural = _("member changes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.member_id} {self.field}"


from .otp import PhoneVerification  # noqa: E402, F401 - registers the model in this app

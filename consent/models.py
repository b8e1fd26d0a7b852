"""PDPA consent: documents, their versions and the append-only consent log.

Design overview
- A ``ConsentDocument`` (terms, privacy policy, marketing consent, others) belongs to one
  brand. A brand has at most one document of each kind except "other" (so "the marketing
  consent" of a brand is unambiguous); ``is_required`` documents must be accepted before
  the member may use the portal, optional ones are asked, not forced.
- A ``ConsentVersion`` is a numbered text of a document in Thai and English, a draft until
  it is published (``consent.services.consent_version_publish``). Once published it is
  frozen: ``save()`` refuses any change and ``delete()`` refuses, so the text a member
  agreed to is kept exactly as shown. The *current* version of a document is its highest
  published version whose ``effective_at`` has passed.
- ``ConsentRecord`` rows are the log: a member granted or withdrew a version, through a
  channel, when, from where. Append-only (``save()`` refuses to update, ``delete()``
  refuses). A member's current decision on a document is their latest record for it;
  records are written under the member's row lock, so the highest id is the latest.
  ``document`` is copied from the version so "latest per (member, document)" is one
  index lookup (``consent_record_latest``).
- Staff recording on a member's behalf must give a reason and their user: a database
  constraint, not only a service check.
- Only ``consent.services`` writes these tables.

Data-subject rights (PDPA sections 30-33)
- ``PersonalDataAccess`` is the append-only audit of every export or erasure of a member's
  personal data: who (staff user, or the member themselves), when, which member, why.
- ``ConsentAnonymisation`` records the one permitted change to the consent log: on erasure,
  ``consent.services.consent_records_anonymise`` nulls the IP address and user agent of the
  member's records (a set-based UPDATE of those two columns only) and writes this row with
  the reason. Decisions, versions, channels and times are never changed.
- ``ConsentExport`` is a staff CSV export of the log (filters, progress, the file). It is a
  job row, mutable while it runs; the file is stored through Django's default storage.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from config.append_only import AppendOnlyModel
from config.exports import ExportJob
from members.models import TimeStamped

from .errors import ConsentVersionImmutable


def _localised(language: str | None, thai: str, english: str) -> str:
    return english if (language or "").startswith("en") and english else thai


class ConsentDocument(TimeStamped):
    class Kind(models.TextChoices):
        TERMS = "terms", _("Terms of service")
        PRIVACY = "privacy", _("Privacy policy")
        MARKETING = "marketing", _("Marketing consent")
        OTHER = "other", _("Other")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="consent_documents")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    title_th = models.CharField(_("title (Thai)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    is_required = models.BooleanField(
        _("required"), default=False,
        help_text=_("Members must accept the current version before they can use the member portal."),
    )

    class Meta:
        verbose_name = _("consent document")
        verbose_name_plural = _("consent documents")
        ordering = ["brand", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "kind"], condition=~Q(kind="other"), name="consent_document_kind_unique_per_brand"
            ),
        ]

    def __str__(self) -> str:
        return self.title_en or self.title_th

    def title_for(self, language: str | None) -> str:
        return _localised(language, self.title_th, self.title_en)


class ConsentVersion(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    # Every field that is frozen once the version is published.
    FROZEN_FIELDS = ("document_id", "version", "content_th", "content_en", "status", "effective_at", "published_at")

    document = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    content_th = models.TextField(_("content (Thai)"))
    content_en = models.TextField(_("content (English)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    effective_at = models.DateTimeField(
        _("effective from"), null=True, blank=True,
        help_text=_("When this version replaces the previous one (not before it is published). Empty: when it is published."),
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("consent document version")
        verbose_name_plural = _("consent document versions")
        ordering = ["document", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["document", "version"], name="consent_version_unique_per_document"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False, effective_at__gte=F("published_at")),
                name="consent_version_published_has_dates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} v{self.version}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def content_for(self, language: str | None) -> str:
        return _localised(language, self.content_th, self.content_en)

    def _stored(self):
        return type(self).objects.filter(pk=self.pk).values(*self.FROZEN_FIELDS).first()

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk is not None:
            stored = self._stored()
            if stored and stored["status"] == self.Status.PUBLISHED and any(
                    stored[name] != getattr(self, name) for name in self.FROZEN_FIELDS):
                raise ConsentVersionImmutable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        stored = self._stored()
        if stored and stored["status"] == self.Status.PUBLISHED:
            raise ConsentVersionImmutable()
        return super().delete(*args, **kwargs)


class ConsentRecord(AppendOnlyModel):
    class Channel(models.TextChoices):
        LIFF = "liff", _("LINE (LIFF)")
        WEB = "web", _("Website")
        CASHIER = "cashier", _("Cashier")
        IMPORT = "import", _("Import")
        STAFF = "staff", _("Staff on the member's behalf")

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="consent_records")
    document = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="records", editable=False)
    version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, related_name="records")
    granted = models.BooleanField(_("granted"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("staff user"),
    )
    reason = models.TextField(_("reason"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "document", "-id"], name="consent_record_latest")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(channel="staff") | (~Q(reason="") & Q(staff_user__isnull=False)),
                name="consent_record_staff_has_reason_and_user",
            ),
        ]

    def __str__(self) -> str:
        decision = _("granted") if self.granted else _("withdrawn")
        return f"#{self.pk} · {decision}"


class PersonalDataAccess(AppendOnlyModel):
    """Audit (append-only): each time a member's personal data is exported or erased."""

    class Action(models.TextChoices):
        EXPORT = "export", _("Personal data export")
        ERASURE = "erasure", _("Erasure")

    class Channel(models.TextChoices):
        STAFF = "staff", _("Staff (admin)")
        MEMBER = "member", _("The member (portal)")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="personal_data_accesses")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    channel = models.CharField(_("by"), max_length=16, choices=Channel.choices)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("staff user"),
    )
    reason = models.TextField(_("reason"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(channel="staff") | (~Q(reason="") & Q(staff_user__isnull=False)),
                name="personal_data_access_staff_has_reason_and_user",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} · {self.member_id}"


class ConsentAnonymisation(AppendOnlyModel):
    """The record of the one permitted update of the consent log (IP and user agent nulled)."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    records = models.PositiveIntegerField(_("records anonymised"))
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("staff user"),
    )
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent log anonymisation")
        verbose_name_plural = _("consent log anonymisations")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="consent_anonymisation_has_reason")]

    def __str__(self) -> str:
        return f"#{self.pk} · {self.member_id}"


def consent_export_path(instance, filename: str) -> str:
    return f"consent-exports/{instance.brand_id}/{filename}"


class ConsentExport(ExportJob, TimeStamped):
    """A CSV export of the consent log for one brand, built by a Celery task with progress
    (``config.exports``: the status choices, ``percent``, the build and the admin responses)."""

    class Decision(models.TextChoices):
        ANY = "", _("Granted or withdrawn")
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    brand = models.ForeignKey("members.Brand", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    date_from = models.DateField(_("from (Bangkok date)"), null=True, blank=True)
    date_to = models.DateField(_("to (Bangkok date, inclusive)"), null=True, blank=True)
    kind = models.CharField(_("document kind"), max_length=16, choices=ConsentDocument.Kind.choices, blank=True)
    version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("version"))
    decision = models.CharField(_("status"), max_length=16, choices=Decision.choices, blank=True)
    status = models.CharField(_("export status"), max_length=16, choices=ExportJob.Status.choices,
                              default=ExportJob.Status.QUEUED)
    total = models.PositiveIntegerField(_("rows"), default=0)
    written = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), upload_to=consent_export_path, blank=True, max_length=200)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent export")
        verbose_name_plural = _("consent exports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} · {self.get_status_display()}"

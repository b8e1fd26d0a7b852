"""Expiry reminders and nightly job runs.

- ``ExpiryReminder``: one per account and expiry day, inserted set-based by the reminder
  job (``INSERT ... ON CONFLICT DO NOTHING``), then sent on LINE in batches; a second run
  of the job on the same day finds them and adds nothing.
- ``JobRun``: what each nightly job did on which day (for operators and benchmarks).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExpiryReminder(models.Model):
    account = models.ForeignKey("loyalty.PointAccount", on_delete=models.PROTECT, related_name="expiry_reminders")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="expiry_reminders")
    expires_on = models.DateField(_("expires on"))
    points = models.BigIntegerField(_("points"))
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        constraints = [models.UniqueConstraint(fields=["account", "expires_on"], name="one_reminder_per_expiry_day")]
        indexes = [models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="reminder_unsent")]

    def __str__(self) -> str:
        return f"{self.account}: {self.points} on {self.expires_on}"


class JobRun(models.Model):
    job = models.CharField(_("job"), max_length=64)
    run_key = models.CharField(_("run"), max_length=64)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows = models.BigIntegerField(_("rows changed"), default=0)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("nightly job run")
        verbose_name_plural = _("nightly job runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "-started_at"], name="job_run_recent")]

    def __str__(self) -> str:
        return f"{self.job} {self.run_key}: {self.rows}"

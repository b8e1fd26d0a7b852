"""Append-only rows (ledger, consent log, audits): written once, never updated or deleted.

``save()`` refuses to update an existing row and ``delete()`` refuses to delete; corrections
are new rows. (``QuerySet.update()``/``delete()`` bypass this; services never use them on
these tables.)
"""

from django.db import models


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an append-only row."""


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")

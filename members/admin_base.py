"""The admin base class that scopes every brand-owned model to the staff user's brands.

Subclasses name the path to the brand (``brand_path``); querysets, foreign-key choices
and object access are filtered here once, so no admin page can forget it.
"""

from django import forms
from django.contrib import admin
from django.db.models import Q

from members.models import Branch, Brand, Member
from members.selectors import brand_ids_for_user

BRAND_SCOPED_FOREIGN_KEYS = {Brand: "pk__in", Branch: "brand_id__in", Member: "brand_id__in"}


class SameBrandForm(forms.ModelForm):
    """A ModelForm whose related rows in ``same_brand`` ({field: error message}) must be of the row's brand.

    The brand comes from the form, or from the saved row when the brand is read-only (change forms).
    """

    same_brand: dict = {}

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand") or (self.instance.brand if self.instance.pk else None)
        for name, message in self.same_brand.items():
            related = cleaned.get(name)
            if brand and related and not _belongs_to(related, brand.pk):
                self.add_error(name, message)
        return cleaned


def _belongs_to(row, brand_id: int) -> bool:
    """The row is the brand's own, or (a group currency) shared with the brand."""
    if row.brand_id == brand_id:
        return True
    shared = getattr(row, "shared_with", None)
    return shared is not None and shared.filter(pk=brand_id).exists()


def _scoped_choices(related, brand_ids):
    """Rows of ``related`` a user of ``brand_ids`` may pick; None when the model isn't brand-owned."""
    if related in BRAND_SCOPED_FOREIGN_KEYS:
        return related._default_manager.filter(**{BRAND_SCOPED_FOREIGN_KEYS[related]: brand_ids})
    if not any(f.name == "brand" for f in related._meta.fields):
        return None
    choices = Q(brand_id__in=brand_ids)
    if any(f.name == "shared_with" for f in related._meta.many_to_many):
        choices |= Q(shared_with__in=brand_ids)
    return related._default_manager.filter(choices).distinct()


class BrandScopedAdmin(admin.ModelAdmin):
    brand_path = "brand"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.brand_path}__in": brand_ids_for_user(request.user)})

    def get_list_filter(self, request):
        """Filters on a brand, branch or member list only what the user may see."""
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and self._is_brand_owned(self._related_model(entry)):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def _related_model(self, field_path: str):
        model = self.model
        for name in field_path.split("__"):
            field = model._meta.get_field(name)
            if not field.is_relation:
                return None
            model = field.related_model
        return model

    @staticmethod
    def _is_brand_owned(model) -> bool:
        return model is not None and (
            model in BRAND_SCOPED_FOREIGN_KEYS or any(field.name == "brand" for field in model._meta.fields)
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            choices = _scoped_choices(db_field.related_model, brand_ids_for_user(request.user))
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            choices = _scoped_choices(db_field.related_model, brand_ids_for_user(request.user))
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(BrandScopedAdmin):
    """For append-only and service-written tables: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

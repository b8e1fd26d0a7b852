"""Segment errors (stable codes, Thai/English messages)."""

from django.utils.translation import gettext_lazy as _

from config.domain import NotFound, ValidationFailed


class SegmentDefinitionInvalid(ValidationFailed):
    code = "segment_definition_invalid"
    message = _("Some segment conditions are not valid.")


class TagImportMalformed(ValidationFailed):
    code = "tag_import_malformed"
    message = _("The file is not a CSV of member codes or phone numbers; nothing was tagged.")


class SegmentBrandNotFound(NotFound):
    code = "segment_brand_not_found"
    message = _("No such brand.")

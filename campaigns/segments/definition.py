"""A segment definition as a tree: AND/OR groups of conditions (issue 9).

``{"op": "and"|"or", "conditions": [<condition> | <group>, ...]}``; a condition is
``{"type": <one of conditions.TYPES>, ...its parameters}``. An empty definition (``{}`` or no
conditions) means every member. ``definition_clean`` returns the normalised tree or raises
``SegmentDefinitionInvalid`` whose ``fields`` name each bad value by its path
(``conditions.1.conditions.0.codes``); ``definition_q`` compiles a clean tree; ``definition_describe``
reads it out ("RFM = Champions AND bought SKU LATTE in the last 90 days").
"""

from django.db.models import Q
from django.utils.translation import gettext as _

from .conditions import TYPES, ConditionInvalid, Context
from .errors import SegmentDefinitionInvalid

MAX_DEPTH = 3
MAX_CONDITIONS = 40
OPS = ("and", "or")


def definition_clean(*, brand, definition) -> dict:
    errors: dict[str, list[str]] = {}
    count = [0]

    def clean_group(raw, path: str, depth: int) -> dict:
        if not isinstance(raw, dict):
            errors[path or "definition"] = [_("Expected a group of conditions.")]
            return {"op": "and", "conditions": []}
        op = raw.get("op", "and")
        if op not in OPS:
            errors[f"{path}op".lstrip(".")] = [_("Combine with AND or OR.")]
            op = "and"
        children = raw.get("conditions", [])
        if not isinstance(children, list):
            errors[f"{path}conditions"] = [_("Expected a list of conditions.")]
            children = []
        if depth > 0 and not children:
            errors[f"{path}conditions"] = [_("A group needs at least one condition.")]
        cleaned = []
        for index, child in enumerate(children):
            child_path = f"{path}conditions.{index}"
            count[0] += 1
            if count[0] > MAX_CONDITIONS:
                errors[child_path] = [_("At most %(maximum)s conditions.") % {"maximum": MAX_CONDITIONS}]
                break
            if isinstance(child, dict) and "conditions" in child and "type" not in child:
                if depth + 1 >= MAX_DEPTH:
                    errors[child_path] = [_("Groups nest at most %(depth)s deep.") % {"depth": MAX_DEPTH}]
                    continue
                cleaned.append(clean_group(child, child_path + ".", depth + 1))
                continue
            kind = TYPES.get(child.get("type")) if isinstance(child, dict) else None
            if kind is None:
                errors[f"{child_path}.type"] = [_("Choose a condition type.")]
                continue
            try:
                cleaned.append({"type": kind.key, **kind.clean(child, brand)})
            except ConditionInvalid as error:
                errors[f"{child_path}.{error.field}"] = [error.message]
        return {"op": op, "conditions": cleaned}

    tree = clean_group(definition or {}, "", 0)
    if errors:
        raise SegmentDefinitionInvalid(fields=errors)
    return tree


def definition_q(definition: dict, ctx: Context) -> Q:
    """A ``Q`` over ``Member`` for a clean definition (an empty one: every member)."""
    parts = []
    for child in definition.get("conditions", []):
        if "type" in child:
            parts.append(TYPES[child["type"]].compile(child, ctx))
        else:
            parts.append(definition_q(child, ctx))
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if definition.get("op") == "or" else (combined & part)
    return combined


def definition_describe(definition: dict, brand) -> str:
    def describe(group, nested: bool) -> str:
        texts = []
        for child in group.get("conditions", []):
            if "type" in child:
                kind = TYPES.get(child["type"])
                texts.append(kind.describe(child, brand) if kind else "?")
            else:
                texts.append(describe(child, True))
        if not texts:
            return _("all members")
        joined = f" {_('OR') if group.get('op') == 'or' else _('AND')} ".join(texts)
        return f"({joined})" if nested and len(texts) > 1 else joined

    return describe(definition or {}, False)

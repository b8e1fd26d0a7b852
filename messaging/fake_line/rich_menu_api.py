"""Rich-menu endpoints of the fake (menus, images, per-user links, default, bulk, batch, aliases).

The SDK's ``MessagingApiBlob`` (image upload/download, normally api-data.line.me)
lands here too when ``Configuration(host=...)`` points at the fake.
"""

from __future__ import annotations

import secrets
import struct
from typing import Any

from .state import FakeLineState, RichMenu
from .wire import CHANNEL, Reject, Request, Response, Route, body_error, error, iso_time, ok

MAX_AREAS = 20
MAX_IMAGE_BYTES = 1024 * 1024
MAX_BULK_USERS = 500
IMAGE_TYPES = ("image/png", "image/jpeg")


# --------------------------------------------------------------- validation

def validate_rich_menu(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"message": "must be a JSON object"}]
    details = []
    size = body.get("size")
    if not isinstance(size, dict) or not all(isinstance(size.get(k), int) for k in ("width", "height")):
        details.append({"message": "must be specified", "property": "size"})
    elif not (800 <= size["width"] <= 2500 and size["height"] >= 250 and size["width"] / size["height"] >= 1.45):
        details.append({"message": "invalid size (width 800-2500, height >= 250, ratio >= 1.45)",
                        "property": "size"})
    if not isinstance(body.get("selected"), bool):
        details.append({"message": "must be specified", "property": "selected"})
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 300:
        details.append({"message": "Length must be between 1 and 300", "property": "name"})
    chat_bar_text = body.get("chatBarText")
    if not isinstance(chat_bar_text, str) or not 1 <= len(chat_bar_text) <= 14:
        details.append({"message": "Length must be between 1 and 14", "property": "chatBarText"})
    areas = body.get("areas")
    if not isinstance(areas, list) or len(areas) > MAX_AREAS:
        details.append({"message": f"Size must be between 0 and {MAX_AREAS}", "property": "areas"})
    else:
        for i, area in enumerate(areas):
            bounds = area.get("bounds") if isinstance(area, dict) else None
            if not isinstance(bounds, dict) or not all(
                    isinstance(bounds.get(k), int) for k in ("x", "y", "width", "height")):
                details.append({"message": "must be specified", "property": f"areas[{i}].bounds"})
            action = area.get("action") if isinstance(area, dict) else None
            if not isinstance(action, dict) or not action.get("type"):
                details.append({"message": "must be specified", "property": f"areas[{i}].action.type"})
    return details


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or baseline/progressive JPEG, or None when unparseable."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            (length,) = struct.unpack(">H", data[i + 2:i + 4])
            i += 2 + length
    return None


def _menu(fake: FakeLineState, menu_id: str) -> RichMenu:
    menu = fake.rich_menu_store.get(menu_id)
    if menu is None:
        raise Reject(error(404, "Not found"))
    return menu


def _displayable(fake: FakeLineState, menu_id: Any) -> str:
    """A menu that exists and has an image (LINE refuses to show a menu without one)."""
    if not isinstance(menu_id, str) or menu_id not in fake.rich_menu_store:
        raise Reject(error(404, "Not found"))
    if fake.rich_menu_store[menu_id].image is None:
        raise Reject(error(400, "must upload richmenu image before applying it to user"))
    return menu_id


def _user_ids(body: dict) -> list[str]:
    user_ids = body.get("userIds")
    if (not isinstance(user_ids, list) or not 1 <= len(user_ids) <= MAX_BULK_USERS
            or not all(isinstance(u, str) and u for u in user_ids)):
        raise Reject(body_error([{"message": f"Size must be between 1 and {MAX_BULK_USERS}",
                                  "property": "userIds"}]))
    return user_ids


# -------------------------------------------------------------------- menus

def create(fake: FakeLineState, req: Request) -> Response:
    body = req.json_object()
    details = validate_rich_menu(body)
    if details:
        return body_error(details)
    menu_id = f"richmenu-{secrets.token_hex(16)}"
    menu = {"richMenuId": menu_id,
            **{k: body[k] for k in ("size", "selected", "name", "chatBarText", "areas")}}
    fake.rich_menu_store[menu_id] = RichMenu(menu)
    return ok({"richMenuId": menu_id})


def validate(fake: FakeLineState, req: Request) -> Response:
    details = validate_rich_menu(req.json_object())
    return body_error(details) if details else ok()


def list_menus(fake: FakeLineState, req: Request) -> Response:
    return ok({"richmenus": [rm.menu for rm in fake.rich_menu_store.values()]})


def get(fake: FakeLineState, req: Request) -> Response:
    return ok(_menu(fake, req.params["menu_id"]).menu)


def delete(fake: FakeLineState, req: Request) -> Response:
    menu_id = req.params["menu_id"]
    _menu(fake, menu_id)
    del fake.rich_menu_store[menu_id]
    fake.rich_menu_links = {u: m for u, m in fake.rich_menu_links.items() if m != menu_id}
    fake.rich_menu_aliases = {a: m for a, m in fake.rich_menu_aliases.items() if m != menu_id}
    if fake.default_rich_menu == menu_id:
        fake.default_rich_menu = None
    return ok()


def upload_image(fake: FakeLineState, req: Request) -> Response:
    """JPEG/PNG only (else 415), at most 1 MB, one upload per menu. When the bytes
    are a real PNG/JPEG the documented dimension limits are checked too."""
    menu = _menu(fake, req.params["menu_id"])
    if req.content_type not in IMAGE_TYPES:
        return error(415, "Unsupported Media Type", [{"message": "must be image/png or image/jpeg",
                                                      "property": "Content-Type"}])
    if not req.raw_body:
        return error(400, "The image is empty")
    if len(req.raw_body) > MAX_IMAGE_BYTES:
        return error(400, "The image size must be 1 MB or less")
    if menu.image is not None:
        return error(400, "An image has already been uploaded to the richmenu")
    dims = image_dimensions(req.raw_body)
    if dims is not None:
        width, height = dims
        if not (800 <= width <= 2500 and height >= 250 and width / height >= 1.45):
            return error(400, "Invalid image size", [{"message": f"{width}x{height}: width must be 800-2500, "
                                                                 "height >= 250, width/height >= 1.45"}])
    menu.image, menu.image_type = req.raw_body, req.content_type
    return ok()


def download_image(fake: FakeLineState, req: Request) -> Response:
    menu = _menu(fake, req.params["menu_id"])
    if menu.image is None:
        return error(404, "Not found")
    return Response(200, menu.image, menu.image_type or "application/octet-stream")


# ---------------------------------------------------------- per-user links

def link_user(fake: FakeLineState, req: Request) -> Response:
    fake.rich_menu_links[req.params["user_id"]] = _displayable(fake, req.params["menu_id"])
    return ok()


def unlink_user(fake: FakeLineState, req: Request) -> Response:
    fake.rich_menu_links.pop(req.params["user_id"], None)
    return ok()


def get_user_menu(fake: FakeLineState, req: Request) -> Response:
    menu_id = fake.rich_menu_links.get(req.params["user_id"])
    if menu_id is None:
        return error(404, "the user has no richmenu")
    return ok({"richMenuId": menu_id})


def bulk_link(fake: FakeLineState, req: Request) -> Response:
    body = req.json_object()
    user_ids = _user_ids(body)
    menu_id = _displayable(fake, body.get("richMenuId"))
    for user_id in user_ids:
        fake.rich_menu_links[user_id] = menu_id
    return ok(status=202)


def bulk_unlink(fake: FakeLineState, req: Request) -> Response:
    for user_id in _user_ids(req.json_object()):
        fake.rich_menu_links.pop(user_id, None)
    return ok(status=202)


# ----------------------------------------------------------------- default

def set_default(fake: FakeLineState, req: Request) -> Response:
    fake.default_rich_menu = _displayable(fake, req.params["menu_id"])
    return ok()


def get_default(fake: FakeLineState, req: Request) -> Response:
    if fake.default_rich_menu is None:
        return error(404, "no default richmenu")
    return ok({"richMenuId": fake.default_rich_menu})


def clear_default(fake: FakeLineState, req: Request) -> Response:
    fake.default_rich_menu = None
    return ok()


# ------------------------------------------------------------------- batch

def _batch_details(body: dict) -> list[dict[str, str]]:
    operations = body.get("operations")
    if not isinstance(operations, list) or not 1 <= len(operations) <= 1000:
        return [{"message": "Size must be between 1 and 1000", "property": "operations"}]
    details = []
    for i, op in enumerate(operations):
        kind = op.get("type") if isinstance(op, dict) else None
        needed = {"link": ("from", "to"), "unlink": ("from",), "unlinkAll": ()}.get(kind)
        if needed is None:
            details.append({"message": "must be link, unlink or unlinkAll", "property": f"operations[{i}].type"})
            continue
        details += [{"message": "must be specified", "property": f"operations[{i}].{k}"}
                    for k in needed if not isinstance(op.get(k), str)]
    return details


def batch(fake: FakeLineState, req: Request) -> Response:
    """Applies the operations immediately and records a ``succeeded`` progress (202)."""
    body = req.json_object()
    details = _batch_details(body)
    if details:
        return body_error(details)
    accepted = iso_time(fake.now())
    for op in body["operations"]:
        if op["type"] == "link":
            target = _displayable(fake, op["to"])
            for user_id, menu_id in list(fake.rich_menu_links.items()):
                if menu_id == op["from"]:
                    fake.rich_menu_links[user_id] = target
        elif op["type"] == "unlink":
            fake.rich_menu_links = {u: m for u, m in fake.rich_menu_links.items() if m != op["from"]}
        else:
            fake.rich_menu_links.clear()
    fake.rich_menu_batches[req.request_id] = {"phase": "succeeded", "acceptedTime": accepted,
                                              "completedTime": iso_time(fake.now())}
    return ok(status=202)


def validate_batch(fake: FakeLineState, req: Request) -> Response:
    details = _batch_details(req.json_object())
    return body_error(details) if details else ok()


def batch_progress(fake: FakeLineState, req: Request) -> Response:
    progress = fake.rich_menu_batches.get(req.query.get("requestId", ""))
    return ok(progress) if progress else error(404, "Not found")


# ----------------------------------------------------------------- aliases

def _alias_body(fake: FakeLineState, req: Request) -> str:
    menu_id = req.json_object().get("richMenuId")
    if not isinstance(menu_id, str):
        raise Reject(body_error([{"message": "must be specified", "property": "richMenuId"}]))
    if menu_id not in fake.rich_menu_store:
        raise Reject(error(400, "richmenu not found"))
    return menu_id


def create_alias(fake: FakeLineState, req: Request) -> Response:
    alias_id = req.json_object().get("richMenuAliasId")
    if not isinstance(alias_id, str) or not 1 <= len(alias_id) <= 32:
        return body_error([{"message": "Length must be between 1 and 32", "property": "richMenuAliasId"}])
    menu_id = _alias_body(fake, req)
    if alias_id in fake.rich_menu_aliases:
        return error(400, "conflict richmenu alias id")
    fake.rich_menu_aliases[alias_id] = menu_id
    return ok()


def update_alias(fake: FakeLineState, req: Request) -> Response:
    alias_id = req.params["alias_id"]
    if alias_id not in fake.rich_menu_aliases:
        return error(404, "Not found")
    fake.rich_menu_aliases[alias_id] = _alias_body(fake, req)
    return ok()


def get_alias(fake: FakeLineState, req: Request) -> Response:
    menu_id = fake.rich_menu_aliases.get(req.params["alias_id"])
    if menu_id is None:
        return error(404, "Not found")
    return ok({"richMenuAliasId": req.params["alias_id"], "richMenuId": menu_id})


def delete_alias(fake: FakeLineState, req: Request) -> Response:
    if fake.rich_menu_aliases.pop(req.params["alias_id"], None) is None:
        return error(404, "Not found")
    return ok()


def list_aliases(fake: FakeLineState, req: Request) -> Response:
    return ok({"aliases": [{"richMenuAliasId": a, "richMenuId": m} for a, m in fake.rich_menu_aliases.items()]})


# Literal paths come before the ``{menu_id}`` / ``{user_id}`` patterns they would also match.
ROUTES: list[Route] = [
    Route("POST", "/v2/bot/richmenu", create, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/validate", validate, auth=CHANNEL),
    Route("GET", "/v2/bot/richmenu/list", list_menus, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/bulk/link", bulk_link, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/bulk/unlink", bulk_unlink, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/batch", batch, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/validate/batch", validate_batch, auth=CHANNEL),
    Route("GET", "/v2/bot/richmenu/progress/batch", batch_progress, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/alias", create_alias, auth=CHANNEL),
    Route("GET", "/v2/bot/richmenu/alias/list", list_aliases, auth=CHANNEL),
    Route("GET", "/v2/bot/richmenu/alias/{alias_id}", get_alias, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/alias/{alias_id}", update_alias, auth=CHANNEL),
    Route("DELETE", "/v2/bot/richmenu/alias/{alias_id}", delete_alias, auth=CHANNEL),
    Route("GET", "/v2/bot/richmenu/{menu_id}", get, auth=CHANNEL),
    Route("DELETE", "/v2/bot/richmenu/{menu_id}", delete, auth=CHANNEL),
    Route("POST", "/v2/bot/richmenu/{menu_id}/content", upload_image, auth=CHANNEL),
    Route("GET", "/v2/bot/richmenu/{menu_id}/content", download_image, auth=CHANNEL),
    Route("POST", "/v2/bot/user/all/richmenu/{menu_id}", set_default, auth=CHANNEL),
    Route("GET", "/v2/bot/user/all/richmenu", get_default, auth=CHANNEL),
    Route("DELETE", "/v2/bot/user/all/richmenu", clear_default, auth=CHANNEL),
    Route("POST", "/v2/bot/user/{user_id}/richmenu/{menu_id}", link_user, auth=CHANNEL),
    Route("GET", "/v2/bot/user/{user_id}/richmenu", get_user_menu, auth=CHANNEL),
    Route("DELETE", "/v2/bot/user/{user_id}/richmenu", unlink_user, auth=CHANNEL),
]

"""Content-Security-Policy headers.

Member and cashier pages (``settings.CSP_STRICT_PATHS``: the LIFF portal, the cashier page, the
LINE Login pages) get a strict policy that allows only what they use:

- scripts from this site (the bundles are local, built from npm: no CDN), plus the inline
  ``<script>`` blocks and ``on…=`` handlers written in the project's own templates, each allowed
  by its SHA-256 hash (computed once per process from the template files, so a script injected
  into a page can never match), plus ``https://static.line-scdn.net``, from which the LIFF SDK's
  ``liff.init()`` loads its in-app extension script;
- connections to this site and to the LINE origins the LIFF SDK calls (``api.line.me``,
  ``access.line.me``, ``liff.line.me``, ``liffsdk.line-scdn.net``) and the configured LINE hosts
  (``LINE_LOGIN_API_BASE``, ``LINE_ACCESS_BASE``, ``LINE_API_BASE``: the fake LINE server in
  development and tests);
- images from this site, ``data:`` and ``blob:`` (the cashier's QR scan of a photo) and LINE's
  profile-picture CDNs (``profile.line-scdn.net``, ``obs.line-scdn.net``);
- forms posting to this site, and LINE Login, to which the "Log in with LINE" form redirects;
- styles from this site and inline (``style=`` attributes are used across the templates);
- no plugins, no ``<base>`` elsewhere, no framing (``frame-ancestors 'none'``).

Every other page (admin, API docs) gets a baseline that restricts no script but forbids plugins,
foreign ``<base>`` and framing (the admin's own pages have inline scripts with translated text).

A view that sets its own ``Content-Security-Policy`` keeps its directives: the middleware adds
only the directives the view did not set (the embeddable member card sets ``frame-ancestors``
to the brand's own sites).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

HEADER = "Content-Security-Policy"

# Origins the LIFF SDK (@line/liff, bundled) talks to: its endpoint table (api./access./liff.line.me),
# the translation manifest (liffsdk.line-scdn.net) and the extension script liff.init() loads in the
# LINE app (static.line-scdn.net). Not allowed: liff-subwindow.line.me (share target picker, unused),
# uts-front.line-apps.com (the SDK's optional analytics).
LIFF_CONNECT = ("https://api.line.me", "https://access.line.me", "https://liff.line.me",
                "https://liffsdk.line-scdn.net")
LIFF_SCRIPTS = ("https://static.line-scdn.net",)
LINE_IMAGES = ("https://profile.line-scdn.net", "https://obs.line-scdn.net")

_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)
_EVENT_HANDLER = re.compile(r"""\son[a-z]+="(?P<code>[^"]*)\"""", re.I)
_TEMPLATE_SYNTAX = ("{{", "{%", "{#")


def _sha256(code: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"


def _template_dirs() -> list[Path]:
    from django.template import engines

    dirs: list[Path] = []
    for engine in engines.all():
        dirs.extend(Path(d) for d in engine.template_dirs)
    base = Path(settings.BASE_DIR).resolve()
    # The project's own templates only: third-party templates are not served on strict pages.
    return [d for d in dirs if d.resolve().is_relative_to(base) and ".venv" not in d.parts]


def scan_template(text: str, scripts: set[str], handlers: set[str]) -> None:
    """Add the hashes of ``text``'s inline scripts and event handlers that contain no template
    syntax (so that their rendered text is exactly their source)."""
    for match in _INLINE_SCRIPT.finditer(text):
        attrs, body = match.group("attrs"), match.group("body")
        if re.search(r"\bsrc\s*=", attrs) or not body.strip():
            continue
        if re.search(r"""type\s*=\s*["']?(?!text/javascript|module)""", attrs):
            continue  # data blocks (application/json) are not executed
        if not any(mark in body for mark in _TEMPLATE_SYNTAX):
            scripts.add(_sha256(body))
    for match in _EVENT_HANDLER.finditer(text):
        code = match.group("code")
        if not any(mark in code for mark in _TEMPLATE_SYNTAX):
            handlers.add(_sha256(code))


@functools.cache
def template_hashes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(script hashes, event-handler hashes) of the inline JavaScript in the project's templates."""
    scripts: set[str] = set()
    handlers: set[str] = set()
    for directory in _template_dirs():
        for path in sorted(directory.rglob("*.html")):
            scan_template(path.read_text(encoding="utf-8"), scripts, handlers)
    return tuple(sorted(scripts)), tuple(sorted(handlers))


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _line_hosts() -> list[str]:
    hosts = []
    for url in (settings.LINE_LOGIN_API_BASE, settings.LINE_ACCESS_BASE, settings.LINE_API_BASE):
        origin = _origin(url)
        if origin and origin not in hosts:
            hosts.append(origin)
    return hosts


def _join(*parts) -> str:
    seen: list[str] = []
    for part in parts:
        for item in (part,) if isinstance(part, str) else part:
            if item and item not in seen:
                seen.append(item)
    return " ".join(seen)


def strict_policy() -> dict[str, str]:
    scripts, handlers = template_hashes()
    line = _line_hosts()
    access = _origin(settings.LINE_ACCESS_BASE)
    return {
        "default-src": "'self'",
        "script-src": _join("'self'", LIFF_SCRIPTS, scripts, ("'unsafe-hashes'",) if handlers else (), handlers),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": _join("'self'", "data:", "blob:", LINE_IMAGES),
        "font-src": "'self' data:",
        "connect-src": _join("'self'", LIFF_CONNECT, line),
        "media-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": _join("'self'", access or ()),
        "frame-ancestors": "'none'",
    }


def baseline_policy() -> dict[str, str]:
    return {"object-src": "'none'", "base-uri": "'self'", "frame-ancestors": "'none'"}


def parse(header: str) -> dict[str, str]:
    directives = {}
    for chunk in header.split(";"):
        name, _, value = chunk.strip().partition(" ")
        if name:
            directives[name.lower()] = value.strip()
    return directives


def render(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


def policy_for(path: str) -> dict[str, str]:
    if any(path.startswith(prefix) for prefix in settings.CSP_STRICT_PATHS):
        return strict_policy()
    return baseline_policy()


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if not content_type.startswith("text/html"):
            return response
        policy = policy_for(request.path_info)
        own = parse(response[HEADER]) if HEADER in response else {}
        response[HEADER] = render({**policy, **own})
        return response

"""The browser client: one static HTML file, and the policy that guards it.

``page.html`` is self-contained (its CSS and JavaScript inline, nothing
fetched from elsewhere), so the server sends one byte string and nothing
else. Its Content-Security-Policy allows exactly that inline script and style,
by their SHA-256 hashes, computed here once at import: no other script can
run in the page even if something got past its text-only rendering, and it
may connect nowhere but its own origin.

The page must know the server's limits before it sends a line (a WebSocket
line over ``--max-line`` ends the connection; one over the flood budget is
held back): `page_for` writes them into a ``<meta name="selchat-config">``
tag, outside the script, so the script's hash does not change with them.
"""
import base64
import functools
import hashlib
import re
from importlib import resources

from selchat.limits import Limits

_TEMPLATE: bytes = resources.files("selchat.web").joinpath("page.html").read_bytes()
#: Where the limits go; the page falls back on the default limits without them.
_CONFIG = b'<meta name="selchat-config" content="">'


def _hash_of(tag: bytes) -> str:
    """The CSP source for the page's one inline `tag` element (content as is)."""
    found = re.findall(rb"<%s>(.*?)</%s>" % (tag, tag), _TEMPLATE, re.DOTALL)
    if len(found) != 1:
        raise RuntimeError(f"page.html must hold exactly one <{tag.decode()}> element")
    digest = base64.b64encode(hashlib.sha256(found[0]).digest()).decode()
    return f"'sha256-{digest}'"


@functools.lru_cache(maxsize=4)
def page_for(limits: Limits) -> bytes:
    """The page for a server with `limits`: what it needs to split long lines
    (``max-line``), to pace its lines within flood control (``flood-*``) and to
    know which room's lines carry no prefix (``default-room``)."""
    if _TEMPLATE.count(_CONFIG) != 1:
        raise RuntimeError("page.html must hold exactly one empty selchat-config meta tag")
    config = (f"max-line={limits.max_line};flood-burst={limits.flood_burst};"
              f"flood-rate={limits.flood_rate:g};default-room={limits.default_room}")
    return _TEMPLATE.replace(_CONFIG, _CONFIG.replace(b'""', f'"{config}"'.encode()))


#: The page for the default limits.
PAGE: bytes = page_for(Limits())

#: 'self' in connect-src covers ws: and wss: on the page's own host (CSP 3).
CSP = "; ".join([
    "default-src 'none'",
    f"script-src {_hash_of(b'script')}",
    f"style-src {_hash_of(b'style')}",
    "connect-src 'self'",
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

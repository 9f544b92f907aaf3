"""The browser client: one static HTML file, and the policy that guards it.

``page.html`` is self-contained (its CSS and JavaScript inline, nothing
fetched from elsewhere), so the server sends one byte string and nothing
else. Its Content-Security-Policy allows exactly that inline script and style,
by their SHA-256 hashes, computed here once at import: no other script can
run in the page even if something got past its text-only rendering, and it
may connect nowhere but its own origin.
"""
import base64
import hashlib
import re
from importlib import resources

PAGE: bytes = resources.files("selchat.web").joinpath("page.html").read_bytes()


def _hash_of(tag: bytes) -> str:
    """The CSP source for the page's one inline `tag` element (content as is)."""
    found = re.findall(rb"<%s>(.*?)</%s>" % (tag, tag), PAGE, re.DOTALL)
    if len(found) != 1:
        raise RuntimeError(f"page.html must hold exactly one <{tag.decode()}> element")
    digest = base64.b64encode(hashlib.sha256(found[0]).digest()).decode()
    return f"'sha256-{digest}'"


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

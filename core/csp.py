"""The Content-Security-Policy every page is served with.

Scripts come only from our own origin (no inline script anywhere). Styles likewise, plus
the hash of an EMPTY ``<style>`` element: FullCalendar creates one and fills it through
the CSSOM, which the policy allows; no CSS text can get in that way.
"""

EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
CSP = (
    "default-src 'self'; script-src 'self'; "
    f"style-src 'self' {EMPTY_STYLE_HASH}; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

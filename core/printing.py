"""PDF printing: the one rendering path of every printable document (Jinja → xhtml2pdf).

Addons declare documents with the ``printable_documents`` hook; :func:`render_pdf` turns a
template extending ``core/print/base.html`` into an A4 PDF with a header (the document's
title) and a footer (page X of Y).

Two things make Ukrainian print at all, and safely:

- **The font.** xhtml2pdf's built-in fonts have no Cyrillic glyphs: Ukrainian comes out as
  blank boxes. DejaVu Sans is bundled in ``core/fonts/`` and declared with ``@font-face`` in
  the base template (``url("fonts/DejaVuSans.ttf")``).
- **What a render may read.** xhtml2pdf fetches whatever the HTML names (images, fonts,
  stylesheets); recent xhtml2pdf (0.2.28 here) has a resource policy that confines local
  reads, by default to the working directory: run the app from elsewhere and the font is
  not loaded (a log warning, then Helvetica and blank boxes). So the policy is passed
  explicitly: local reads inside ``core/fonts`` and the app's static folder, no network.
  :func:`make_link_callback` maps the URLs our templates use to files in those folders and
  refuses everything else (network, ``..``, other paths), before the policy is consulted.
"""

from __future__ import annotations

import io
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from jinja2 import Environment

from core.hooktypes import PrintableDocument
from core.money import jinja_filters

if TYPE_CHECKING:
    from xhtml2pdf.config.resources import ResourceAccessPolicy

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONT_URL_PREFIX = "fonts/"
#: A render that takes longer is abandoned (xhtml2pdf checks between elements), so one
#: runaway document cannot hold the process's render lock for ever. A 5,000-row ``list``
#: table takes about a minute; a 5,000-row ``grid`` one takes longer (bench/bench_pdf.py).
MAX_RENDER_SECONDS = 180
_PRINT_ENV_KEY = "vitrylo_print_env"


class PrintError(RuntimeError):
    """xhtml2pdf could not turn the document's HTML into a PDF."""


class ResourceRefused(ValueError):
    """A template asked for a file or URL outside the folders a document may read."""


# -- what a document may read ---------------------------------------------------------------


def allowed_roots(app: Flask) -> tuple[Path, ...]:
    """The folders a document may read: the bundled fonts and the app's static folder."""
    roots = [FONTS_DIR]
    if app.static_folder:
        roots.append(Path(app.static_folder).resolve())
    return tuple(roots)


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    resolved = path.resolve()  # follows symlinks and removes "..": no escaping a root
    return resolved.is_file() and any(resolved.is_relative_to(root) for root in roots)


def make_link_callback(
    static_folder: Path | None, static_url_path: str = "/static"
) -> Callable[[str, str | None], str]:
    """A link_callback for xhtml2pdf: ``fonts/<file>`` → ``core/fonts/<file>``,
    ``/static/<path>`` → the static folder; ``data:`` URIs pass (they hold their bytes).

    Anything else raises :class:`ResourceRefused`, which aborts the render: a template that
    asks for another file is a bug to see, not an image to leave out quietly.
    """
    roots = (FONTS_DIR, static_folder.resolve()) if static_folder else (FONTS_DIR,)
    static_prefix = static_url_path.rstrip("/") + "/"

    def link_callback(uri: str, rel: str | None = None) -> str:
        if uri.startswith("data:"):
            return uri
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme or parts.netloc:
            raise ResourceRefused(f"a printed document may not fetch {uri[:120]!r}")
        relative = urllib.parse.unquote(parts.path)
        if relative.startswith(FONT_URL_PREFIX):
            candidate = FONTS_DIR / relative[len(FONT_URL_PREFIX) :]
        elif static_folder is not None and relative.startswith(static_prefix):
            candidate = static_folder / relative[len(static_prefix) :]
        else:
            raise ResourceRefused(f"a printed document may not read {uri[:120]!r}")
        if not _inside(candidate, roots):
            raise ResourceRefused(f"{uri[:120]!r} is not a file a printed document may read")
        return str(candidate.resolve())

    return link_callback


def resource_policy(roots: Sequence[Path], max_seconds: float) -> ResourceAccessPolicy:
    """xhtml2pdf's own gate, for the fetches that bypass the link_callback: local reads
    only inside ``roots``, nothing over the network, a time limit on the whole render."""
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    return ResourceAccessPolicy.server(
        base_dir=roots[0],
        extra_roots=tuple(roots[1:]),
        allow_remote=False,
        max_render_seconds=max_seconds,
    )


# -- rendering ------------------------------------------------------------------------------


def print_environment(app: Flask) -> Environment:
    """The app's Jinja environment with the money filters guaranteed (an overlay).

    Same loader, so print templates extend ``core/print/base.html`` and find every addon's
    templates; a cache of its own, since a template compiled for an environment without
    ``uah`` could not be reused here.
    """
    env: Environment | None = app.extensions.get(_PRINT_ENV_KEY)
    if env is None:
        env = app.jinja_env.overlay(cache_size=100)
        env.filters = {**jinja_filters(), **app.jinja_env.filters}
        app.extensions[_PRINT_ENV_KEY] = env
    return env


def render_html(template: str, context: Mapping[str, Any], *, title: str) -> str:
    """The document's HTML: ``template`` rendered with ``context`` and ``title``.

    Print templates get the context they are given and the environment's globals
    (``url_for``, ``_``), not the shell's context processors: a PDF has no menu.
    """
    env = print_environment(current_app)
    return env.get_template(template).render({**context, "title": title})


def html_to_pdf(
    html: str,
    *,
    roots: Sequence[Path],
    static_folder: Path | None = None,
    static_url_path: str = "/static",
    max_seconds: float = MAX_RENDER_SECONDS,
) -> bytes:
    """Convert ``html`` to PDF bytes, reading only files inside ``roots``.

    xhtml2pdf is imported here, not at the top: it and ReportLab take a third of a second
    to import, which every app process would pay at start-up for a page it may never serve.
    """
    from xhtml2pdf import pisa

    out = io.BytesIO()
    status = pisa.pisaDocument(
        html,
        dest=out,
        encoding="utf-8",
        link_callback=make_link_callback(static_folder, static_url_path),
        resource_policy=resource_policy(roots, max_seconds),
    )
    if status.err:
        raise PrintError(f"xhtml2pdf reported {status.err} error(s) rendering the document")
    return out.getvalue()


def render_pdf(
    template: str,
    context: Mapping[str, Any],
    *,
    title: str,
    max_seconds: float = MAX_RENDER_SECONDS,
) -> bytes:
    """Render ``template`` (which extends ``core/print/base.html``) to an A4 PDF.

    Needs an app context. xhtml2pdf renders one document at a time per process (it holds a
    lock around ReportLab's global font state), so a long document delays the next one.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    html = render_html(template, context, title=title)
    static = Path(app.static_folder) if app.static_folder else None
    return html_to_pdf(
        html,
        roots=allowed_roots(app),
        static_folder=static,
        static_url_path=app.static_url_path or "/static",
        max_seconds=max_seconds,
    )


# -- the registry ---------------------------------------------------------------------------


def printable_documents() -> list[PrintableDocument]:
    """Every printable document of the enabled addons (through the typed facade)."""
    from core.web import kernel

    return kernel().hooks.printable_documents()


def get_document(name: str) -> PrintableDocument | None:
    """The enabled document called ``name``, or ``None``."""
    return next((d for d in printable_documents() if d.name == name), None)


# -- the HTTP answer ------------------------------------------------------------------------

_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|;]+')
_NOT_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, fallback: str = "document") -> str:
    """``name`` without path separators, quotes or control characters, at most 120
    characters, ending in ``.pdf``."""
    stem = _UNSAFE_IN_FILENAME.sub(" ", name).strip(" .")[:120] or fallback
    return f"{stem}.pdf"


def content_disposition(filename: str, ascii_fallback: str) -> str:
    """``inline`` with an ASCII ``filename`` and the UTF-8 ``filename*`` (RFC 5987/6266),
    so browsers save "Картка контрагента 12.pdf" and old clients still get a name."""
    fallback = _NOT_ASCII_SAFE.sub("_", ascii_fallback).strip("_.") or "document"
    if not fallback.endswith(".pdf"):
        fallback += ".pdf"
    quoted = urllib.parse.quote(filename, safe="")
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"

"""Vitrylo's kernel: addon discovery, hooks, migrations, licences and the web app factory."""

from core.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """The Flask app factory (imported lazily so ``from core import hookimpl`` stays cheap)."""
    from core.app import create_app as factory

    return factory(*args, **kwargs)

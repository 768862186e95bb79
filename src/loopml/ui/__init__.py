"""The dashboard: pages over the project's store, with Plotly charts served locally.

``create_ui(store, spec)`` builds the ASGI app (:mod:`loopml.ui.app`); ``loopml ui`` serves it on
its own and ``loopml serve`` mounts it at ``/ui`` (:mod:`loopml.ui.server`). What each page shows
is gathered in :mod:`loopml.ui.pages`; who may change things (acknowledge an alert) is decided in
:mod:`loopml.ui.access`, with the forms' CSRF tokens in :mod:`loopml.ui.csrf` and the ``Host``
check against DNS rebinding in :mod:`loopml.ui.hosts`.
"""

from loopml.ui.app import create_ui
from loopml.ui.server import serve_ui

__all__ = ["create_ui", "serve_ui"]

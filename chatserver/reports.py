"""The reports page (`/admin/reports`), its JSON API and CSV exports."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []

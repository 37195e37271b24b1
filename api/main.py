"""ASGI entry point for `uvicorn api.main:app` (each worker builds its own container).

Several workers start at once. When no COACH_SECRET_KEY is set, the key kept in the data
directory is created atomically (first link wins), so every worker signs with the same key.
Each worker warms up before it takes requests (embedding model, Chroma, the keyword index),
so the first users of a fresh worker do not wait for model loading.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio

from api.app import create_app, warm_up
from coach.settings import Settings

settings = Settings()
settings.resolved_secret_key()  # created once, atomically, before any worker signs a cookie
app = create_app(settings=settings)
_default_lifespan = app.router.lifespan_context


@asynccontextmanager
async def _lifespan(application):
    await anyio.to_thread.run_sync(warm_up, application.state.container)
    async with _default_lifespan(application) as state:
        yield state


app.router.lifespan_context = _lifespan

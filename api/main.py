"""ASGI entry point for `uvicorn api.main:app` (each worker builds its own container)."""

from api.app import create_app

app = create_app()

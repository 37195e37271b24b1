"""The HTTP edge: FastAPI routes and server-rendered pages that translate to and from coach/."""

"""Reverse-mentoring session coach: the core library.

Domain and services here import neither FastAPI nor a vendor SDK; the
adapters in ``coach.adapters`` implement the protocols in ``coach.ports``.
"""

__version__ = "0.1.0"

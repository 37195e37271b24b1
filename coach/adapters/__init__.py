"""Concrete adapters behind coach.ports: the only modules that import vendor SDKs."""

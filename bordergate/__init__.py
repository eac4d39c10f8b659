"""bordergate: self-service border clearance (shared pieces: contracts, Redis, logging, CLI)."""

__version__ = "0.1.0"

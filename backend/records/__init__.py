"""The durable records store (SQLAlchemy): entry records and the event outbox."""

from backend.records.store import RecordsStore, RecordsUnavailableError, StoredClearance

__all__ = ["RecordsStore", "RecordsUnavailableError", "StoredClearance"]

"""The tamper-evident audit trail: a hash chain in the records store."""

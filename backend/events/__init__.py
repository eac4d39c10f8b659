"""Publishing events to Redis Streams through the transactional outbox."""

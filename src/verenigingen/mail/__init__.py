"""Mail: an outbox table written in the sender's transaction, delivered by a background job."""

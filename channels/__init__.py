"""Live channels: delivery of the outbox, the live clock, and the adapters that connect Referflow to each channel."""

"""Webhooks (Actions): Segment's `send` action to any HTTP endpoint, signed with `sharedSecret` (`X-Signature`)."""

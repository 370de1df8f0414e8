"""Segment (Actions): Segment's five send actions and a forwarder of ours, to Segment's tracking API or any API that
speaks it (`/v1/batch`, Basic auth with a source's write key)."""

"""Request hardening: cross-site request refusal and the production start-up check."""

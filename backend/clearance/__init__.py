"""The clearance domain: the decision rules and the use case that records and publishes them."""

"""Use cases. Each wires the ocpi models, the hub client and the store together."""

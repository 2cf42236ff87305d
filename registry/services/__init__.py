"""Use cases on a Session. They raise typed domain errors and know nothing of GraphQL or HTTP."""

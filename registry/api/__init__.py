"""The GraphQL API (strawberry): types, queries, mutations, loaders, permissions, errors."""

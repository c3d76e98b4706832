"""Authentication (which principal is asking) and authorization (the permission policy)."""

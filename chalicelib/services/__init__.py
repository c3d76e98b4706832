"""The service layer: domain operations that take a principal and plain values."""

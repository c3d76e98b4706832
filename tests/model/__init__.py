"""A reference model of Obelisk's intended permission semantics (docs/security.md)."""

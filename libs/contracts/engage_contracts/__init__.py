"""The contracts Engage's services and gateway agree on (see docs/architecture.md)."""

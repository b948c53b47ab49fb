"""The events service: engagement events residents can come to, and their registrations."""

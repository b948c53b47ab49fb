"""The gateway's application layer: the workflows the HTTP API, the resident pages and
the admin CLI share (staff, tokens and audit; consultations and erasure; residents'
responses). Routes and commands parse and present; the decisions happen here."""

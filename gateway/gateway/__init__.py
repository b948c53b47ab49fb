"""The Engage gateway: public and staff HTTP API, resident web pages, reports."""

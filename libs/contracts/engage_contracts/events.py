"""The events service's contract. Today events answers ``health()`` only (the shape is
``engage_common.healthcheck.HealthSchema``, the same for every service); its RPC, events
and queued messages are defined here as they are built, never in the gateway."""

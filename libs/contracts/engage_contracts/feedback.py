"""The feedback service's contract. Today feedback answers ``health()`` only (the shape is
``engage_common.healthcheck.HealthSchema``, the same for every service); its RPC, events
and queued messages are defined here as they are built, never in the gateway."""

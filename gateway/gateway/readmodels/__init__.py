"""The gateway's read models: tables kept up to date from the services' events by
``projections`` (a nameko process of its own, ``gateway_projections``), read by
``queries``. Pages and reports that read them never call a service."""

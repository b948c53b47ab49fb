"""Gateway settings, all from the environment (the same names docker-compose sets)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_SECRET = "dev-only-secret-change-me"


@dataclass(frozen=True)
class Settings:
    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/engage_gateway"
    secret_key: str = DEFAULT_SECRET
    environment: str = "development"
    rpc_timeout: float = 5.0
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 256 * 1024
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            amqp_uri=env.get("AMQP_URI", cls.amqp_uri),
            database_url=env.get("DATABASE_URL", cls.database_url),
            secret_key=env.get("SECRET_KEY", cls.secret_key),
            environment=env.get("ENGAGE_ENV", cls.environment),
            rpc_timeout=float(env.get("RPC_TIMEOUT", cls.rpc_timeout)),
            public_url=env.get("PUBLIC_URL", cls.public_url),
        )

    def check(self) -> None:
        """Refuse to run in production with the development secret."""
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET:
            raise RuntimeError("SECRET_KEY must be set in production")

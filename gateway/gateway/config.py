"""Gateway settings, all from the environment (the same names docker-compose sets)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_SECRET = "dev-only-secret-change-me"
MIN_SECRET_LENGTH = 32


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/engage_gateway"
    secret_key: str = DEFAULT_SECRET
    environment: str = "development"
    rpc_timeout: float = 5.0
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 256 * 1024
    # Requests per client per minute: resident submissions and receipt changes (writes),
    # and public reads. 0 turns a limit off (for load tests behind a trusted limiter).
    rate_limit_per_minute: int = 60
    rate_limit_reads_per_minute: int = 600
    # Honour X-Forwarded-For / X-Forwarded-Proto only behind a proxy we run.
    trust_proxy: bool = False
    # Days a staff API token works for (the most an admin may give one).
    token_ttl_days: int = 90
    # A demo (ENGAGE_DEMO=1, set by ./engage up) also offers languages whose translation
    # is still to be reviewed, with a banner saying so.
    demo: bool = False

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
            rate_limit_per_minute=int(env.get("RATE_LIMIT_PER_MINUTE", cls.rate_limit_per_minute)),
            rate_limit_reads_per_minute=int(
                env.get("RATE_LIMIT_READS_PER_MINUTE", cls.rate_limit_reads_per_minute)
            ),
            trust_proxy=_flag(env.get("TRUST_PROXY")),
            token_ttl_days=int(env.get("TOKEN_TTL_DAYS", cls.token_ttl_days)),
            demo=_flag(env.get("ENGAGE_DEMO")),
        )

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def check(self) -> None:
        """Refuse to run in production with the development secret or a short one: the
        secret signs session cookies (CSRF) and derives receipt codes (HMAC), so a
        guessable one would make both forgeable."""
        if not self.production:
            return
        if self.secret_key == DEFAULT_SECRET:
            raise RuntimeError("SECRET_KEY must be set in production")
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise RuntimeError(
                f"SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production"
            )

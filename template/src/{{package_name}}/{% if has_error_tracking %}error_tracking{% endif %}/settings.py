"""The Sentry settings: a section of the service's `Settings` (`class Settings(...,
ErrorTrackingSettings, ...)`)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings


class ErrorTrackingSettings(BaseSettings):
    sentry_dsn: SecretStr | None = Field(
        default=None, description="Where errors are reported; unset: nothing is reported."
    )
    sentry_environment: str | None = Field(default=None, description="Defaults to ENVIRONMENT.")
    sentry_release: str | None = Field(
        default=None, description="Defaults to <distribution>@<version>."
    )
    sentry_traces_sample_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of requests Sentry traces; 0: none."
    )

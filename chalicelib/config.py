"""The one door through which configuration enters: environment variables only, read by
`settings()` when first asked (never at import), then kept for the process (a Lambda's environment
does not change). What a module builds from the configuration and keeps (boto3 clients, PynamoDB
connections, the signing key ring) is registered with `on_reset`; `reset()` forgets the settings and
all of those at once, for tests and the in-process service layer that point one process at another
environment (`devstack/in_process.py`)."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _csv(name: str, default: str = "") -> tuple[str, ...]:
    return tuple(part.strip() for part in _env(name, default).split(",") if part.strip())


# The scope of Cognito access tokens from USER_PASSWORD_AUTH and of hosted-UI sign-ins that ask
# for it (the web app does): the one scope every user access token of the pool carries.
COGNITO_USER_SCOPE = "aws.cognito.signin.user.admin"


@dataclass(frozen=True)
class Settings:
    stage: str
    public_url: str
    region: str
    users_table: str
    albums_table: str
    shares_table: str
    tokens_table: str
    dicom_table: str
    reports_table: str
    dicom_bucket: str
    events_queue: str
    deliveries_queue: str
    uploads_queue: str
    renditions_queue: str
    research_queue: str
    signing_key_parameter: str
    oidc_issuer: str
    oidc_discovery_url: str
    oidc_required_scope: str
    presign_seconds: int
    oidc_client_ids: tuple[str, ...] = field(default_factory=tuple)
    ohif_url: str = ""
    web_url: str = ""
    outbound_allowlist: tuple[str, ...] = field(default_factory=tuple)
    outbound_timeout_seconds: float = 10.0
    deliveries_dlq: str = ""
    webhook_retry_delays: tuple[int, ...] = (20, 15, 10, 5)
    webhook_debounce_seconds: int = 30
    obelisk_admins: tuple[str, ...] = field(default_factory=tuple)
    report_link_seconds: int = 300
    report_session_seconds: int = 3600
    renditions_delay_seconds: int = 2
    function_memory_mb: int = 1024  # the Lambda's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)
    upload_max_bytes: int = 2 * 1024 ** 3
    # Where the public origin reaches the DICOM bucket (docs/dicomweb.md, "Which URL"): the S3
    # endpoint, without the bucket, that its storage paths forward to, virtual-hosted. Empty: reads
    # are redirected to the bucket's own URL.
    public_storage_endpoint: str = ""

    @property
    def api_url(self) -> str:
        """Base of every URL Obelisk writes into responses: `{root}/api`."""
        return self.public_url.rstrip("/") + "/api"


@lru_cache(maxsize=1)
def settings() -> Settings:
    stage = _env("OBELISK_STAGE", "local")
    # One public origin, as KHEOPS presents it (locally the web app's server forwards `/api/*`; a
    # deployment sets OBELISK_WEB_URL to its CloudFront site): the API is `{root}/api` and the web
    # app is served at the root unless OBELISK_WEB_URL says otherwise.
    public_url = _env("OBELISK_PUBLIC_URL", "http://127.0.0.1:3000")
    prefix = f"obelisk-{stage}"
    issuer = _env("OIDC_ISSUER")
    return Settings(
        stage=stage,
        public_url=public_url,
        # The region of every AWS client (boto3 and PynamoDB); Lambda sets both variables.
        region=_env("AWS_DEFAULT_REGION") or _env("AWS_REGION") or "us-east-1",
        users_table=_env("OBELISK_USERS_TABLE", f"{prefix}-users"),
        albums_table=_env("OBELISK_ALBUMS_TABLE", f"{prefix}-albums"),
        shares_table=_env("OBELISK_SHARES_TABLE", f"{prefix}-shares"),
        tokens_table=_env("OBELISK_TOKENS_TABLE", f"{prefix}-tokens"),
        dicom_table=_env("OBELISK_DICOM_TABLE", f"{prefix}-dicom"),
        reports_table=_env("OBELISK_REPORTS_TABLE", f"{prefix}-reports"),
        dicom_bucket=_env("OBELISK_DICOM_BUCKET", f"{prefix}-dicom"),
        events_queue=_env("OBELISK_EVENTS_QUEUE", f"{prefix}-events"),
        deliveries_queue=_env("OBELISK_DELIVERIES_QUEUE", f"{prefix}-deliveries"),
        uploads_queue=_env("OBELISK_UPLOADS_QUEUE", f"{prefix}-uploads"),
        renditions_queue=_env("OBELISK_RENDITIONS_QUEUE", f"{prefix}-renditions"),
        research_queue=_env("OBELISK_RESEARCH_QUEUE", f"{prefix}-research"),
        renditions_delay_seconds=int(_env("OBELISK_RENDITIONS_DELAY_SECONDS", "2")),
        function_memory_mb=int(_env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")),
        signing_key_parameter=_env("OBELISK_SIGNING_KEY_PARAMETER", f"/obelisk/{stage}/signing-keys"),
        oidc_issuer=issuer,
        oidc_discovery_url=_env(
            "OIDC_DISCOVERY_URL",
            issuer.rstrip("/") + "/.well-known/openid-configuration" if issuer else "",
        ),
        # Never off: an empty value means the default, the scope every Cognito access token carries.
        oidc_required_scope=_env("OIDC_REQUIRED_SCOPE") or COGNITO_USER_SCOPE,
        oidc_client_ids=_csv("OIDC_CLIENT_IDS"),
        presign_seconds=int(_env("OBELISK_PRESIGN_SECONDS", "300")),
        ohif_url=_env("OBELISK_OHIF_URL", "http://127.0.0.1:3001"),
        web_url=_env("OBELISK_WEB_URL", public_url),
        outbound_allowlist=_csv("OBELISK_OUTBOUND_ALLOWLIST"),
        outbound_timeout_seconds=float(_env("OBELISK_OUTBOUND_TIMEOUT_SECONDS", "10")),
        deliveries_dlq=_env("OBELISK_DELIVERIES_DLQ", f"{prefix}-deliveries-dlq"),
        # Delays before attempts 2..n of a webhook delivery (docs/kheops-compatibility.md §12: 20, 15, 10, 5 s).
        webhook_retry_delays=tuple(int(d) for d in _csv("OBELISK_WEBHOOK_RETRY_DELAYS", "20,15,10,5")),
        webhook_debounce_seconds=int(_env("OBELISK_WEBHOOK_DEBOUNCE_SECONDS", "30")),
        obelisk_admins=tuple(a.lower() for a in _csv("OBELISK_ADMINS")),
        report_link_seconds=int(_env("OBELISK_REPORT_LINK_SECONDS", "300")),
        report_session_seconds=int(_env("OBELISK_REPORT_SESSION_SECONDS", "3600")),
        # One instance sent through the multipart upload is ingested in the function's memory.
        upload_max_bytes=int(_env("OBELISK_UPLOAD_MAX_BYTES", str(2 * 1024 ** 3))),
        public_storage_endpoint=_env("OBELISK_PUBLIC_STORAGE_ENDPOINT"),
    )


_RESETS: list[Callable[[], None]] = []


def on_reset(forget: Callable[[], None]) -> Callable[[], None]:
    """Registers `forget`, which drops something its module built from the configuration and
    keeps for the process; `reset()` calls it. Returns `forget` (usable as a decorator)."""
    _RESETS.append(forget)
    return forget


def reset() -> None:
    """Forgets the settings and everything registered with `on_reset`: the next call reads the
    environment again. For tests and `devstack/in_process.py`; a deployed function never calls it."""
    settings.cache_clear()
    for forget in _RESETS:
        forget()

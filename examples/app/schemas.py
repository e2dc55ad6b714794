"""Request and response bodies of the reference app's HTTP API (pydantic v2).

The auth bodies (login, refresh, logout, the token response) are the SDK's own, from
``relaypoint_core.fastapi.create_auth_router``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from relaypoint_core.text import StorableStr

__all__ = [
    "AuditEntry",
    "AuditPage",
    "BrandingBody",
    "ExecutionResult",
    "Me",
    "PlanBody",
    "PlanTierName",
    "QuotaOverride",
    "RateLimitState",
    "RateLimitWindow",
    "Step",
    "TenantCreate",
    "TenantOut",
    "Usage",
    "UsageItem",
    "WorkflowCreate",
    "WorkflowFields",
    "WorkflowOut",
    "WorkflowPage",
    "WorkflowUpdate",
]

PlanTierName = Literal["FREE", "STARTER", "PROFESSIONAL", "ENTERPRISE"]
WorkflowStatusName = Literal["draft", "active", "paused", "archived"]
_STRICT = ConfigDict(extra="forbid")


class Me(BaseModel):
    user_id: str
    email: str
    tenant_id: str | None
    tenant_slug: str | None
    roles: list[str]


class Step(BaseModel):
    model_config = _STRICT
    name: StorableStr = Field(min_length=1, max_length=100)
    action: Literal["noop", "echo", "uppercase", "reverse", "length"] = "echo"
    input: StorableStr = Field(default="", max_length=2000)


class WorkflowCreate(BaseModel):
    model_config = _STRICT
    name: StorableStr = Field(min_length=1, max_length=200)
    description: StorableStr = Field(default="", max_length=2000)
    status: WorkflowStatusName = "draft"
    steps: list[Step] = Field(default_factory=list, max_length=50)


class WorkflowUpdate(BaseModel):
    model_config = _STRICT
    name: StorableStr | None = Field(default=None, min_length=1, max_length=200)
    description: StorableStr | None = Field(default=None, max_length=2000)
    status: WorkflowStatusName | None = None
    steps: list[Step] | None = Field(default=None, max_length=50)


class WorkflowOut(BaseModel):
    id: str
    tenant_id: str = Field(description="the tenant's public slug")
    name: str
    description: str
    status: str
    steps: list[dict[str, Any]]
    version: int
    run_count: int
    created_by: str
    created_at: str
    updated_at: str


class WorkflowFields(BaseModel):
    """A workflow as returned with ``?fields=``: every field is optional, present ones are typed."""

    id: str = Field(default=None)  # type: ignore[assignment]
    tenant_id: str = Field(default=None)  # type: ignore[assignment]
    name: str = Field(default=None)  # type: ignore[assignment]
    description: str = Field(default=None)  # type: ignore[assignment]
    status: str = Field(default=None)  # type: ignore[assignment]
    steps: list[dict[str, Any]] = Field(default=None)  # type: ignore[arg-type]
    version: int = Field(default=None)  # type: ignore[assignment]
    run_count: int = Field(default=None)  # type: ignore[assignment]
    created_by: str = Field(default=None)  # type: ignore[assignment]
    created_at: str = Field(default=None)  # type: ignore[assignment]
    updated_at: str = Field(default=None)  # type: ignore[assignment]


class WorkflowPage(BaseModel):
    items: list[WorkflowFields]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class ExecutionResult(BaseModel):
    id: str
    workflow_id: str
    status: str
    output: list[dict[str, Any]]
    started_by: str
    started_at: str
    finished_at: str


class TenantCreate(BaseModel):
    model_config = _STRICT
    name: StorableStr = Field(min_length=1, max_length=200)
    slug: StorableStr = Field(min_length=1, max_length=48)
    plan_tier: PlanTierName = "FREE"
    admin_email: EmailStr
    admin_name: StorableStr = Field(min_length=1, max_length=200)
    admin_password: str = Field(min_length=12, max_length=256)


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str
    plan_tier: str
    status: str
    branding: dict[str, Any]


_HEX_COLOR = r"^\s*#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\s*$"
_HTTPS_URL = r"^\s*https://[A-Za-z0-9.\-]+(?::\d{1,5})?(?:/[^\s\"'<>]*)?\s*$"
_COMPANY = r"^\s*\S(?:[\s\S]{0,98}\S)?\s*$"
_EMAIL = (
    r"^\s*[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}\s*$"
)


class BrandingBody(BaseModel):
    model_config = _STRICT
    # The patterns are relaypoint_tenancy.branding's rules (which strip surrounding whitespace),
    # so the schema promises exactly what the server accepts. They are stated for the schema
    # only: the tenancy validator enforces them, with a 422 that names every bad field.
    primary_color: StorableStr | None = Field(
        default=None, json_schema_extra={"pattern": _HEX_COLOR}
    )
    secondary_color: StorableStr | None = Field(
        default=None, json_schema_extra={"pattern": _HEX_COLOR}
    )
    logo_url: StorableStr | None = Field(
        default=None, max_length=2048, json_schema_extra={"pattern": _HTTPS_URL}
    )
    favicon_url: StorableStr | None = Field(
        default=None, max_length=2048, json_schema_extra={"pattern": _HTTPS_URL}
    )
    company_name: StorableStr | None = Field(default=None, json_schema_extra={"pattern": _COMPANY})
    support_email: StorableStr | None = Field(
        default=None, max_length=254, json_schema_extra={"pattern": _EMAIL}
    )


class PlanBody(BaseModel):
    model_config = _STRICT
    plan_tier: PlanTierName


class QuotaOverride(BaseModel):
    model_config = _STRICT
    limit: int | None = Field(
        ge=0, le=10**15, description="the tenant's own limit; null = unlimited"
    )


class UsageItem(BaseModel):
    resource: str
    used: int
    limit: int | None
    period: str


class Usage(BaseModel):
    tenant_id: str
    plan_tier: str
    status: str
    resources: list[UsageItem]


class RateLimitWindow(BaseModel):
    scope: str
    window: str
    limit: int
    used: int
    remaining: int
    reset_seconds: int


class RateLimitState(BaseModel):
    tier: str
    windows: list[RateLimitWindow]


class AuditEntry(BaseModel):
    id: int
    actor: str | None
    action: str
    detail: dict[str, Any]
    created_at: str


class AuditPage(BaseModel):
    items: list[AuditEntry]
    limit: int
    offset: int

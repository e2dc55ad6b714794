"""Workflows CRUD + execute, served twice: under ``/tenants/{tenant_id}/workflows`` and under
``/workflows`` (tenant from the host or ``X-Tenant-ID``). Reads are cached per tenant and every
write invalidates what it changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from examples.app.context import CallContext, ReadCall, ReadContext, call_context
from examples.app.domain import Workflow, WorkflowNotFound, WorkflowRepository
from examples.app.encoded import EncodedItems, encode_json
from examples.app.listing import FieldSelection, PageParams, page_params
from examples.app.path_params import TENANT_IN_PATH
from examples.app.permissions import (
    RequireWorkflowCreate,
    RequireWorkflowDelete,
    RequireWorkflowExecute,
    RequireWorkflowRead,
    RequireWorkflowUpdate,
)
from examples.app.realtime import publish, publish_to_admins
from examples.app.routes_auth import bearer_scheme
from examples.app.runtime import Runtime, use_runtime
from examples.app.schemas import (
    ExecutionResult,
    WorkflowCreate,
    WorkflowFields,
    WorkflowOut,
    WorkflowPage,
    WorkflowUpdate,
)
from relaypoint_core.fastapi_problems import http_problem_response
from relaypoint_core.rbac import Permission
from relaypoint_core.text import is_safe_id
from relaypoint_tenancy import TenantInfo

__all__ = ["WORKFLOW_FIELDS", "build_workflow_router"]

WORKFLOW_FIELDS = tuple(WorkflowOut.model_fields)
select_fields = FieldSelection(WORKFLOW_FIELDS)
read_workflow = ReadCall(Permission.WORKFLOW_READ, select_fields)
X_CACHE_HIT = {"X-Cache": "hit"}
X_CACHE_MISS = {"X-Cache": "miss"}
CACHE_TTL = 300
# Declared per route, not per router: the hot read documents the scheme through ``ReadCall``.
SECURED = [Depends(bearer_scheme)]


ITEMS = "workflows"
LISTS = "workflow-lists"


def _public(workflow: Workflow, tenant: TenantInfo) -> dict[str, Any]:
    """A workflow as the API shows it: the tenant by its public slug, never its row id."""
    return workflow.to_dict() | {"tenant_id": tenant.slug}


def _list_key(page: PageParams) -> str:
    return f"{page.limit}:{page.offset}"


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match: "3"`` (or ``W/"3"``) header names; ``None`` without one."""
    if if_match is None:
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "if-match"),
                    "msg": "must be a version number",
                    "type": "value_error",
                }
            ]
        )
    return int(tag)


def _not_found(workflow_id: str) -> JSONResponse:
    # Only a well-formed id is repeated: a 60 KB or hostile path segment is never echoed.
    named = f"workflow {workflow_id!r}" if is_safe_id(workflow_id, max_length=32) else "workflow"
    return http_problem_response(404, f"{named} does not exist in this tenant")


async def _invalidate(runtime: Runtime, tenant: TenantInfo, workflow_id: str | None) -> None:
    """Drop what a write changed: the item, and every cached page (one O(1) namespace bump)."""
    if workflow_id is not None:
        await runtime.cache.delete(workflow_id, tenant_id=tenant.slug, namespace=ITEMS)
    await runtime.cache.invalidate_namespace(LISTS, tenant_id=tenant.slug)


def build_workflow_router(*, tenant_in_path: bool) -> APIRouter:
    """The workflow routes, with or without the ``{tenant_id}`` path segment."""
    prefix = "/tenants/{tenant_id}/workflows" if tenant_in_path else "/workflows"
    tag = "workflows (tenant in path)" if tenant_in_path else "workflows"
    router = APIRouter(
        prefix=prefix, tags=[tag], dependencies=TENANT_IN_PATH if tenant_in_path else []
    )
    suffix = "_in_tenant" if tenant_in_path else ""
    encoded = EncodedItems()

    @router.get(
        "",
        dependencies=SECURED,
        response_model=WorkflowPage,
        response_model_exclude_unset=True,
        operation_id=f"list_workflows{suffix}",
    )
    async def list_workflows(
        response: Response,
        ctx: Annotated[CallContext, Depends(call_context)],
        runtime: Annotated[Runtime, Depends(use_runtime)],
        page: Annotated[PageParams, Depends(page_params)],
        fields: Annotated[frozenset[str] | None, Depends(select_fields)],
        _: Annotated[object, Depends(RequireWorkflowRead)],
    ) -> dict[str, Any]:
        async def load() -> dict[str, Any]:
            async with runtime.tenants.transaction(ctx.tenant) as session:
                repo = WorkflowRepository(session, ctx.tenant.id)
                total = await repo.count()
                items = [
                    _public(w, ctx.tenant)
                    for w in await repo.page(limit=page.limit, offset=page.offset)
                ]
            return {"items": items, "total": total}

        cached, hit = await runtime.cached(
            _list_key(page), load, tenant_id=ctx.tenant.slug, namespace=LISTS, ttl=CACHE_TTL
        )
        response.headers["X-Cache"] = "hit" if hit else "miss"
        next_offset = page.offset + page.limit
        return {
            "items": [FieldSelection.apply(item, fields) for item in cached["items"]],
            "total": cached["total"],
            "limit": page.limit,
            "offset": page.offset,
            "next_offset": next_offset if next_offset < cached["total"] else None,
        }

    @router.post(
        "",
        dependencies=SECURED,
        response_model=WorkflowOut,
        status_code=201,
        operation_id=f"create_workflow{suffix}",
    )
    async def create_workflow(
        body: WorkflowCreate,
        ctx: Annotated[CallContext, Depends(call_context)],
        runtime: Annotated[Runtime, Depends(use_runtime)],
        _: Annotated[object, Depends(RequireWorkflowCreate)],
    ) -> dict[str, Any]:
        # The quota is counted first (atomically, in the control plane) and given back if the
        # insert fails, so concurrent creates can never overshoot the plan's workflow limit.
        await runtime.tenants.consume_quota(ctx.tenant.id, "workflows", 1)
        try:
            async with runtime.tenants.transaction(ctx.tenant) as session:
                workflow = await WorkflowRepository(session, ctx.tenant.id).create(
                    name=body.name,
                    description=body.description,
                    status=body.status,
                    steps=[step.model_dump() for step in body.steps],
                    created_by=ctx.principal.user_id,
                )
                created = _public(workflow, ctx.tenant)
        except BaseException:
            await runtime.tenants.release_quota(ctx.tenant.id, "workflows", 1)
            raise
        await _invalidate(runtime, ctx.tenant, None)
        return created

    @router.get(
        "/{workflow_id}",
        # The body is encoded here (pre-encoded for a cached item) instead of validated against
        # the model on every read; the document still names the model as the 200 answer.
        response_model=None,
        responses={200: {"model": WorkflowFields, "description": "Successful Response"}},
        openapi_extra=read_workflow.openapi_extra,
        operation_id=f"get_workflow{suffix}",
    )
    async def get_workflow(
        workflow_id: str, call: Annotated[ReadContext, Depends(read_workflow)]
    ) -> Response:
        if not is_safe_id(workflow_id, max_length=32):  # ids are 32 hex digits
            return _not_found(workflow_id)
        tenant, runtime = call.tenant, call.runtime

        async def load() -> dict[str, Any] | None:
            async with runtime.tenants.transaction(tenant) as session:
                try:
                    return (
                        await WorkflowRepository(session, tenant.id).get(workflow_id)
                    ).to_dict() | {"tenant_id": tenant.slug}
                except WorkflowNotFound:
                    return None

        item, hit = await runtime.cached(
            workflow_id, load, tenant_id=tenant.slug, namespace=ITEMS, ttl=CACHE_TTL
        )
        if item is None:
            return _not_found(workflow_id)
        if call.fields is None:
            body = encoded.get(tenant.slug, workflow_id, item)
        else:
            body = encode_json(FieldSelection.apply(item, call.fields))
        return Response(
            body,
            media_type="application/json",
            headers=X_CACHE_HIT if hit else X_CACHE_MISS,
        )

    @router.patch(
        "/{workflow_id}",
        dependencies=SECURED,
        response_model=WorkflowOut,
        operation_id=f"update_workflow{suffix}",
    )
    async def update_workflow(
        workflow_id: str,
        body: WorkflowUpdate,
        ctx: Annotated[CallContext, Depends(call_context)],
        runtime: Annotated[Runtime, Depends(use_runtime)],
        _: Annotated[object, Depends(RequireWorkflowUpdate)],
        if_match: Annotated[
            str | None,
            Header(
                max_length=32,
                description='The version you edited, e.g. `"3"`: a later write answers 409',
            ),
        ] = None,
    ) -> Any:
        if not is_safe_id(workflow_id, max_length=32):  # ids are 32 hex digits
            return _not_found(workflow_id)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        expected = expected_version(if_match)
        async with runtime.tenants.transaction(ctx.tenant) as session:
            try:
                workflow = await WorkflowRepository(session, ctx.tenant.id).update(
                    workflow_id, changes, expected_version=expected
                )
            except WorkflowNotFound:
                return _not_found(workflow_id)
            updated = _public(workflow, ctx.tenant)
        await _invalidate(runtime, ctx.tenant, workflow_id)
        await publish(
            runtime, ctx.tenant.slug, "workflow.updated", {"workflow_id": workflow_id, **updated}
        )
        return updated

    @router.delete(
        "/{workflow_id}",
        dependencies=SECURED,
        status_code=204,
        operation_id=f"delete_workflow{suffix}",
    )
    async def delete_workflow(
        workflow_id: str,
        ctx: Annotated[CallContext, Depends(call_context)],
        runtime: Annotated[Runtime, Depends(use_runtime)],
        _: Annotated[object, Depends(RequireWorkflowDelete)],
    ) -> Response:
        if not is_safe_id(workflow_id, max_length=32):  # ids are 32 hex digits
            return _not_found(workflow_id)
        async with runtime.tenants.transaction(ctx.tenant) as session:
            try:
                await WorkflowRepository(session, ctx.tenant.id).delete(workflow_id)
            except WorkflowNotFound:
                return _not_found(workflow_id)
        await runtime.tenants.release_quota(ctx.tenant.id, "workflows", 1)
        await _invalidate(runtime, ctx.tenant, workflow_id)
        return Response(status_code=204)

    @router.post(
        "/{workflow_id}/execute",
        dependencies=SECURED,
        response_model=ExecutionResult,
        operation_id=f"execute_workflow{suffix}",
    )
    async def execute_workflow(
        workflow_id: str,
        request: Request,
        ctx: Annotated[CallContext, Depends(call_context)],
        runtime: Annotated[Runtime, Depends(use_runtime)],
        _: Annotated[object, Depends(RequireWorkflowExecute)],
    ) -> Any:
        if not is_safe_id(workflow_id, max_length=32):  # ids are 32 hex digits
            return _not_found(workflow_id)
        async with runtime.tenants.transaction(ctx.tenant) as session:
            repo = WorkflowRepository(session, ctx.tenant.id)
            try:
                workflow = await repo.get(workflow_id)
            except WorkflowNotFound:
                return _not_found(workflow_id)
            try:
                async with runtime.track_workflow(ctx.tenant.slug, workflow_id):
                    run = await repo.record_run(workflow, started_by=ctx.principal.user_id)
            except WorkflowNotFound:  # deleted between the read and the run
                return _not_found(workflow_id)
            result = run.to_dict()
        await _invalidate(runtime, ctx.tenant, workflow_id)
        await publish(
            runtime, ctx.tenant.slug, "workflow.executed", {**result, "workflow_id": workflow_id}
        )
        await publish_to_admins(
            runtime,
            ctx.tenant.slug,
            "usage.updated",
            {"rate_limit": runtime.rate_limit_state(request.scope, ctx.tenant)},
        )
        return result

    return router

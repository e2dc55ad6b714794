"""Rooms come from the verified principal, and no id can reach into another tenant's rooms."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from relaypoint_core.realtime import TenantChannel, role_room, rooms_of, tenant_room, user_room
from relaypoint_core.request_state import Principal
from relaypoint_core.testing import tenant_scope

ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20
).filter(lambda s: s.strip() == s)


def _tenant_of(room: str) -> str:
    # t:<escaped tenant>[:u:...|:r:...]; the escaped tenant holds no ':'.
    return room.split(":")[1]


@settings(max_examples=200)
@given(a=ids, b=ids, user_id=ids, role=ids)
def test_rooms_of_different_tenants_never_meet(a: str, b: str, user_id: str, role: str) -> None:
    rooms_a = rooms_of(Principal(user_id, a, (role,)))
    rooms_b = rooms_of(Principal(user_id, b, (role,)))
    if a != b:
        assert not rooms_a & rooms_b
        assert {_tenant_of(r) for r in rooms_a} == {_tenant_of(tenant_room(a))}
        assert {_tenant_of(r) for r in rooms_b} == {_tenant_of(tenant_room(b))}
    else:
        assert rooms_a == rooms_b


@given(tenant=ids, user_id=ids, role=ids)
def test_user_and_role_rooms_live_under_the_tenant_room(
    tenant: str, user_id: str, role: str
) -> None:
    assert user_room(tenant, user_id).startswith(tenant_room(tenant) + ":u:")
    assert role_room(tenant, role).startswith(tenant_room(tenant) + ":r:")
    assert user_room(tenant, user_id).count(":") == 3


def test_a_principal_without_a_tenant_has_no_room() -> None:
    assert rooms_of(Principal("root", None, ("super_admin",))) == frozenset()


async def test_a_channel_only_ever_names_its_own_tenants_rooms() -> None:
    sent: list[tuple[str, str, Any, str]] = []

    async def send(room: str, event: str, data: Any, target: str) -> None:
        sent.append((room, event, data, target))

    channel = TenantChannel(send, "acme")
    await channel.emit("e")
    await channel.emit_to_user("globex", "e")  # a user id that looks like a tenant
    await channel.emit_to_role("t:globex", "e")
    with tenant_scope("acme"):
        await TenantChannel.current(send).emit("e")
    assert {_tenant_of(room) for room, *_ in sent} == {"acme"}
    assert [target for *_, target in sent] == ["tenant", "user", "role", "tenant"]

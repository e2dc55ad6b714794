from __future__ import annotations

import pytest

from relaypoint_tenancy import BrandingValidationError, validate_branding
from relaypoint_tenancy.service import Tenancy


def test_seed_example_is_valid() -> None:
    config = validate_branding(
        {
            "primary_color": "#FF5722",
            "secondary_color": "#00BCD4",
            "logo_url": "https://cdn.acme.com/logo.png",
            "company_name": "Acme Corporation",
            "support_email": "support@acme.com",
        }
    )
    assert config.secondary_color == "#00BCD4"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("primary_color", "red"),
        ("primary_color", "#GGGGGG"),
        ("logo_url", "http://cdn.acme.com/logo.png"),
        ("favicon_url", "javascript:alert(1)"),
        ("logo_url", 'https://cdn.acme.com/x"onerror="y'),
        ("support_email", "not-an-email"),
        ("company_name", "x" * 101),
        ("company_name", ""),
        ("primary_colour", "#FFFFFF"),
    ],
)
def test_bad_branding_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(BrandingValidationError) as caught:
        validate_branding({field: value})
    assert field in str(caught.value)
    assert caught.value.errors


def test_unknown_keys_list_the_allowed_ones() -> None:
    with pytest.raises(BrandingValidationError, match=r"unknown branding key.*primary_color"):
        validate_branding({"theme": "dark"})


async def test_update_merges_and_none_removes(sqlite_tenancy: Tenancy) -> None:
    async with sqlite_tenancy.manager() as manager:
        await manager.create_tenant(
            name="A", slug="acme", admin_email="a@a.example", admin_name="A"
        )
        await manager.update_branding(
            tenant_id="acme", branding_config={"primary_color": "#000000"}
        )
        await manager.update_branding(tenant_id="acme", branding_config={"company_name": "Acme"})
        assert (await manager.get_branding("acme")).model_dump(exclude_none=True) == {
            "primary_color": "#000000",
            "company_name": "Acme",
        }
        await manager.update_branding(tenant_id="acme", branding_config={"primary_color": None})
        assert (await manager.get_tenant("acme")).branding == {"company_name": "Acme"}
        with pytest.raises(BrandingValidationError):
            await manager.update_branding(tenant_id="acme", branding_config={"logo": "x"})
        assert (await manager.get_tenant("acme")).branding == {"company_name": "Acme"}

"""The client's Neon Auth and Data API calls against the emulator: what each one changes."""

from __future__ import annotations

import uuid

import pytest

from neon_operator.neon import NeonClient, NotFound, ProjectCreate, inputs

pytestmark = pytest.mark.integration


async def _project(neon: NeonClient, org: str) -> tuple[str, str]:
    created = await neon.create_project(
        ProjectCreate(name=f"auth-{uuid.uuid4().hex[:8]}", org_id=org)
    )
    await neon.wait_for_operations(created.operations)
    return created.project.id, created.branch.id


async def test_neon_auth_is_enabled_configured_and_disabled(neon: NeonClient, org: str) -> None:
    project, branch = await _project(neon, org)
    with pytest.raises(NotFound):
        await neon.get_neon_auth(project, branch)

    created = await neon.enable_neon_auth(project, branch, database_name="neondb")
    assert created.pub_client_key.get_secret_value().startswith("pck_")
    assert "pck_" not in repr(created)
    found = await neon.get_neon_auth(project, branch)
    assert (found.base_url, found.jwks_url) == (created.base_url, created.jwks_url)

    await neon.delete_oauth_provider(project, branch, "google")
    await neon.update_oauth_provider(
        project, branch, "github", inputs.OAuthProviderChange(client_id="id", client_secret="s1")
    )
    await neon.add_oauth_provider(project, branch, inputs.OAuthProviderChange(id="microsoft"))
    await neon.set_email_and_password(project, branch, False)
    await neon.set_allow_localhost(project, branch, False)
    await neon.add_trusted_domain(project, branch, "https://a.example.com")
    await neon.add_trusted_domain(project, branch, "https://b.example.com")
    await neon.delete_trusted_domains(project, branch, ["https://a.example.com"])

    providers, email_password, localhost = await neon.get_neon_auth_settings(project, branch)
    by_id = {p.id: p for p in providers}
    assert sorted(by_id) == ["github", "microsoft"]
    assert (by_id["github"].type, by_id["github"].client_id) == ("standard", "id")
    assert (email_password, localhost) == (False, False)
    assert await neon.list_trusted_domains(project, branch) == ["https://b.example.com"]

    await neon.disable_neon_auth(project, branch, delete_data=False)
    with pytest.raises(NotFound):
        await neon.get_neon_auth(project, branch)


async def test_the_data_api_is_created_updated_and_deleted(neon: NeonClient, org: str) -> None:
    project, branch = await _project(neon, org)
    url = await neon.create_data_api(
        project,
        branch,
        "neondb",
        inputs.DataApiCreate(
            auth_provider="external",
            jwks_url="https://issuer.example.com/jwks.json",
            settings=inputs.DataApiSettings(db_schemas=["public"]),
        ),
    )
    assert url.endswith("/neondb/rest/v1")

    await neon.update_data_api(
        project,
        branch,
        "neondb",
        inputs.DataApiSettings(db_anon_role="web_anon", server_cors_allowed_origins="https://x.io"),
    )
    found = await neon.get_data_api(project, branch, "neondb")
    assert found.url == url
    assert found.settings["db_anon_role"] == "web_anon"
    assert found.settings["server_cors_allowed_origins"] == "https://x.io"

    await neon.delete_data_api(project, branch, "neondb")
    with pytest.raises(NotFound):
        await neon.get_data_api(project, branch, "neondb")

"""The client against the Neon emulator over real HTTP: the calls the operator makes, and how
the client behaves when Neon says "locked", "slow down", "who are you" or "invalid"."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from neon_operator.neon import (
    AuthenticationError,
    BranchCreate,
    CallLog,
    EndpointSettings,
    EndpointSpec,
    EndpointUpdate,
    InvalidRequestError,
    LimiterRegistry,
    LockedError,
    NeonClient,
    NotFound,
    ProjectBranchSpec,
    ProjectCreate,
    ProjectUpdate,
    RateLimitedError,
    RateLimits,
    RetryPolicy,
    ServerError,
)
from neon_operator.neon.inputs import OAuthProviderChange

from .conftest import Emulator

pytestmark = pytest.mark.integration

OPERATION_ROUTE = "/projects/{project_id}/operations/{operation_id}"
OPERATIONS_ROUTE = "/projects/{project_id}/operations"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_create_wait_get_and_find_by_name(neon: NeonClient, emulator: Emulator) -> None:
    org = emulator.organizations["paid"]
    name = unique("app")
    created = await neon.create_project(
        ProjectCreate(
            name=name,
            org_id=org,
            default_endpoint_settings=EndpointSettings(
                autoscaling_limit_min_cu=0.25, autoscaling_limit_max_cu=1
            ),
        )
    )
    (endpoint,) = created.endpoints
    (uri,) = created.connection_uris
    assert endpoint.id in uri.connection_parameters.host
    assert endpoint.id + "-pooler" in uri.connection_parameters.pooler_host
    assert uri.connection_parameters.password.get_secret_value()

    finished = await neon.wait_for_operations(created.operations)
    assert {op.status for op in finished} <= {"finished", "skipped"}

    project = await neon.get_project(created.project.id)
    assert (project.name, project.org_id) == (name, org)
    found = await neon.list_projects(search=name, org_id=org)
    assert [p.id for p in found] == [created.project.id]
    assert neon.calls.count("POST", "/projects") == 1
    # the create's two operations are polled together, with the project's operations list
    assert neon.calls.count("GET", OPERATIONS_ROUTE) >= 1
    assert neon.calls.count("GET", OPERATION_ROUTE) == 0


async def test_waiting_on_finished_operations_costs_nothing(neon: NeonClient, org: str) -> None:
    created = await neon.create_project(ProjectCreate(name=unique("noop"), org_id=org))
    finished = await neon.wait_for_operations(created.operations)
    calls = neon.calls.total
    assert await neon.wait_for_operations(finished) == finished
    assert neon.calls.total == calls
    again = await neon.get_operation(created.project.id, finished[0].id)
    assert again.status == finished[0].status


async def test_listing_pages_through_every_project_without_an_extra_call(
    neon: NeonClient, emulator: Emulator
) -> None:
    org = emulator.organizations["sponsored"]
    prefix = unique("page")
    ids = [
        (await neon.create_project(ProjectCreate(name=f"{prefix}-{i}", org_id=org))).project.id
        for i in range(5)
    ]
    listed = await neon.list_projects(search=prefix, org_id=org, page_size=2)
    assert sorted(p.id for p in listed) == sorted(ids)
    assert neon.calls.count("GET", "/projects") == 3  # 2 + 2 + 1: the short page is the last


async def test_a_conflicting_call_is_retried_until_the_running_operations_finish(
    neon: NeonClient, admin: Emulator, org: str
) -> None:
    admin.admin("/admin/operations", {"latency_seconds": 0.5})
    created = await neon.create_project(ProjectCreate(name=unique("locked"), org_id=org))
    branch = await neon.create_branch(created.project.id, BranchCreate(name="dev"))
    assert branch.branch.name == "dev"
    assert neon.calls.statuses[423] >= 1
    assert (
        neon.calls.count("POST", "/projects/{project_id}/branches") == 1 + neon.calls.statuses[423]
    )


async def test_a_lock_that_never_clears_ends_in_a_transient_error(
    emulator: Emulator, admin: Emulator, org: str
) -> None:
    async with NeonClient(
        emulator.api_key,
        base_url=emulator.api_url,
        limiters=LimiterRegistry(),
        retry=RetryPolicy(max_attempts=2, max_delay=5.0),
    ) as neon:
        created = await neon.create_project(ProjectCreate(name=unique("stuck"), org_id=org))
        await neon.wait_for_operations(created.operations)
        admin.admin("/admin/faults", {"locked_probability": 1.0})
        with pytest.raises(LockedError, match="conflicting operations") as caught:
            await neon.update_project(created.project.id, ProjectUpdate(name="renamed"))
    assert caught.value.retry_after == 1.0
    assert neon.calls.statuses[423] == 2


async def test_a_refusal_quoting_the_body_keeps_neons_words_but_not_the_secret_sent(
    neon: NeonClient, admin: Emulator
) -> None:
    admin.admin("/admin/faults", {"echo_body_probability": 1.0})
    secret = 'oauth-"secret"-' + uuid.uuid4().hex
    change = OAuthProviderChange(id="github", client_id="gh-client", client_secret=secret)
    with pytest.raises(InvalidRequestError) as caught:
        await neon.add_oauth_provider("some-project-123", "br-some-branch-123", change)
    assert "doesn't match schema" in caught.value.message
    assert "gh-client" in caught.value.message  # what is not secret stays, to help a person
    assert '"client_secret":"[redacted]"' in caught.value.message
    assert secret.split('"')[2] not in str(caught.value)


async def test_rate_limited_calls_wait_as_long_as_retry_after_says(
    emulator: Emulator, admin: Emulator, org: str
) -> None:
    admin.admin("/admin/rate-limits", {"per_minute": 0, "burst_per_second": 2})
    waits: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    async with NeonClient(
        emulator.api_key,
        base_url=emulator.api_url,
        limits=RateLimits(per_minute=0, burst_per_second=0),  # no client limit: provoke 429s
        limiters=LimiterRegistry(),
        sleep=recording_sleep,
    ) as neon:
        projects = await asyncio.gather(
            *(neon.list_projects_page(org_id=org, limit=1) for _ in range(5))
        )
    assert len(projects) == 5
    assert neon.calls.statuses[429] >= 1
    assert waits
    assert min(waits) >= 1.0  # the emulator's Retry-After


async def test_a_client_within_the_budget_never_sees_429(
    emulator: Emulator, admin: Emulator, org: str
) -> None:
    admin.admin("/admin/rate-limits", {"per_minute": 0, "burst_per_second": 10})
    async with NeonClient(
        emulator.api_key,
        base_url=emulator.api_url,
        limits=RateLimits(per_minute=0, burst_per_second=10),
        limiters=LimiterRegistry(),
    ) as neon:
        await asyncio.gather(*(neon.list_projects_page(org_id=org, limit=1) for _ in range(20)))
    assert neon.calls.statuses == {200: 20}


async def test_a_retry_after_longer_than_max_delay_gives_up_and_pauses_the_key(
    emulator: Emulator, admin: Emulator, org: str
) -> None:
    admin.admin("/admin/rate-limits", {"per_minute": 1, "burst_per_second": 0})
    async with NeonClient(
        emulator.api_key,
        base_url=emulator.api_url,
        limits=RateLimits(per_minute=0, burst_per_second=0),
        limiters=LimiterRegistry(),
        retry=RetryPolicy(max_delay=10.0),
    ) as neon:
        await neon.list_projects_page(org_id=org, limit=1)
        with pytest.raises(RateLimitedError) as caught:
            await neon.list_projects_page(org_id=org, limit=1)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 10.0
    assert neon.limiter.paused_for > 10.0
    assert neon.calls.total == 2


async def test_server_errors_on_reads_are_retried_then_reported(
    emulator: Emulator, admin: Emulator, org: str
) -> None:
    admin.admin("/admin/faults", {"error_5xx_probability": 1.0})
    async with NeonClient(
        emulator.api_key,
        base_url=emulator.api_url,
        limiters=LimiterRegistry(),
        retry=RetryPolicy(max_attempts=3, max_delay=5.0),
    ) as neon:
        with pytest.raises(ServerError, match="HTTP 503"):
            await neon.list_projects(org_id=org)
    assert neon.calls.statuses == {503: 3}


async def test_a_wrong_key_is_permanent_and_never_shown(emulator: Emulator, org: str) -> None:
    wrong_key = "napi_" + "x" * 64
    async with NeonClient(
        wrong_key, base_url=emulator.api_url, limiters=LimiterRegistry(), calls=CallLog()
    ) as neon:
        with pytest.raises(AuthenticationError) as caught:
            await neon.list_projects(org_id=org)
        assert wrong_key not in repr(neon)
    assert caught.value.status == 401
    assert wrong_key not in str(caught.value)
    assert neon.calls.total == 1


async def test_invalid_input_carries_neons_message_naming_the_field(
    neon: NeonClient, org: str
) -> None:
    with pytest.raises(InvalidRequestError, match="pg_version") as caught:
        await neon.create_project(ProjectCreate(name=unique("bad"), org_id=org, pg_version=13))
    assert caught.value.status == 400
    assert neon.calls.total == 1


async def test_missing_things_are_not_found(neon: NeonClient) -> None:
    with pytest.raises(NotFound):
        await neon.get_project("no-such-project-00000000")


async def test_branch_lifecycle(neon: NeonClient, org: str) -> None:
    created = await neon.create_project(ProjectCreate(name=unique("branches"), org_id=org))
    project_id = created.project.id
    await neon.wait_for_operations(created.operations)

    dev = await neon.create_branch(
        project_id,
        BranchCreate(name="dev", parent_id=created.branch.id),
        [EndpointSpec(type="read_write", autoscaling_limit_max_cu=0.5)],
    )
    assert [e.branch_id for e in dev.endpoints] == [dev.branch.id]
    await neon.wait_for_operations(dev.operations)

    renamed = await neon.rename_branch(project_id, dev.branch.id, "dev-2")
    await neon.wait_for_operations(renamed.operations)
    assert (await neon.get_branch(project_id, dev.branch.id)).name == "dev-2"

    branches = await neon.list_branches(project_id, page_size=1)
    assert {b.name for b in branches} == {created.branch.name, "dev-2"}

    deleted = await neon.delete_branch(project_id, dev.branch.id)
    assert deleted is not None
    await neon.wait_for_operations(deleted.operations)
    assert await neon.delete_branch(project_id, dev.branch.id) is None


async def test_default_branch_annotations_set_at_creation_come_back_in_listings(
    neon: NeonClient, org: str
) -> None:
    created = await neon.create_project(
        ProjectCreate(
            name=unique("annotated"),
            org_id=org,
            branch=ProjectBranchSpec(annotations={"neon.operator.dev/uid": "uid-1"}),
        )
    )
    await neon.wait_for_operations(created.operations)

    (branch,) = await neon.list_branches(created.project.id)

    assert branch.default
    assert branch.annotations == {"neon.operator.dev/uid": "uid-1"}


async def test_endpoint_settings_suspend_and_start(neon: NeonClient, org: str) -> None:
    created = await neon.create_project(ProjectCreate(name=unique("computes"), org_id=org))
    project_id = created.project.id
    await neon.wait_for_operations(created.operations)
    (endpoint,) = await neon.list_endpoints(project_id)
    assert [e.id for e in await neon.list_endpoints(project_id, branch_id=endpoint.branch_id)] == [
        endpoint.id
    ]

    updated = await neon.update_endpoint(
        project_id, endpoint.id, EndpointUpdate(suspend_timeout_seconds=600)
    )
    await neon.wait_for_operations(updated.operations)
    assert (await neon.get_endpoint(project_id, endpoint.id)).suspend_timeout_seconds == 600

    suspended = await neon.suspend_endpoint(project_id, endpoint.id)
    await neon.wait_for_operations(suspended.operations)
    assert (await neon.get_endpoint(project_id, endpoint.id)).current_state == "idle"
    started = await neon.start_endpoint(project_id, endpoint.id)
    await neon.wait_for_operations(started.operations)
    assert (await neon.get_endpoint(project_id, endpoint.id)).current_state == "active"


async def test_project_defaults_update(neon: NeonClient, org: str) -> None:
    created = await neon.create_project(ProjectCreate(name=unique("defaults"), org_id=org))
    await neon.wait_for_operations(created.operations)
    result = await neon.update_project(
        created.project.id,
        ProjectUpdate(default_endpoint_settings=EndpointSettings(suspend_timeout_seconds=-1)),
    )
    await neon.wait_for_operations(result.operations)
    project = await neon.get_project(created.project.id)
    assert project.default_endpoint_settings is not None
    assert project.default_endpoint_settings.suspend_timeout_seconds == -1


async def test_credentials_flow_logs_no_secret(
    neon: NeonClient, emulator: Emulator, caplog: pytest.LogCaptureFixture, org: str
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await neon.create_project(ProjectCreate(name=unique("secrets"), org_id=org))
    project_id, branch_id = created.project.id, created.branch.id
    await neon.wait_for_operations(created.operations)
    (role,) = created.roles
    (database,) = await neon.list_databases(project_id, branch_id)

    reset = await neon.reset_role_password(project_id, branch_id, role.name)
    await neon.wait_for_operations(reset.operations)
    assert reset.role.password is not None
    new_password = reset.role.password.get_secret_value()
    revealed = await neon.reveal_role_password(project_id, branch_id, role.name)
    assert revealed.get_secret_value() == new_password
    assert (await neon.get_role(project_id, branch_id, role.name)).password is None

    pooled = await neon.connection_uri(
        project_id, database_name=database.name, role_name=role.name, pooled=True
    )
    direct = await neon.connection_uri(
        project_id, database_name=database.name, role_name=role.name, pooled=False
    )
    assert "-pooler" in pooled.get_secret_value()
    assert "-pooler" not in direct.get_secret_value()
    assert new_password in direct.get_secret_value()

    old_password = role.password.get_secret_value() if role.password else ""
    for secret in (emulator.api_key, new_password, old_password, direct.get_secret_value()):
        assert secret
        assert secret not in caplog.text


async def test_snapshot_restore_in_two_steps_and_cleanup(neon: NeonClient, org: str) -> None:
    created = await neon.create_project(ProjectCreate(name=unique("snaps"), org_id=org))
    project_id, main = created.project.id, created.branch
    await neon.wait_for_operations(created.operations)

    taken = await neon.create_snapshot(project_id, main.id, name="checkpoint")
    await neon.wait_for_operations(taken.operations)
    assert [s.id for s in await neon.list_snapshots(project_id)] == [taken.snapshot.id]

    restored = await neon.restore_snapshot(
        project_id, taken.snapshot.id, name="restored", target_branch_id=main.id
    )
    await neon.wait_for_operations(restored.operations)
    assert restored.branch.restore_status == "restored"
    assert restored.branch.restored_from == taken.snapshot.id

    await neon.wait_for_operations(
        await neon.finalize_restore(project_id, restored.branch.id, name="main-old")
    )
    branch = await neon.get_branch(project_id, restored.branch.id)
    assert (branch.name, branch.restore_status, branch.restored_as) == (
        main.name,
        "finalized",
        main.id,
    )
    assert (await neon.get_branch(project_id, main.id)).name == "main-old"

    await neon.wait_for_operations(await neon.delete_snapshot(project_id, taken.snapshot.id))
    assert await neon.list_snapshots(project_id) == []


async def test_projects_move_between_organizations(neon: NeonClient, emulator: Emulator) -> None:
    source, destination = emulator.organizations["sponsored"], emulator.organizations["paid"]
    created = await neon.create_project(ProjectCreate(name=unique("move"), org_id=source))
    await neon.wait_for_operations(created.operations)
    assert await neon.transfer_projects(source, destination, [created.project.id]) == 1
    assert (await neon.get_project(created.project.id)).org_id == destination


async def test_point_in_time_branch_and_self_restore(neon: NeonClient, org: str) -> None:
    created = await neon.create_project(ProjectCreate(name=unique("pitr"), org_id=org))
    project_id, main = created.project.id, created.branch
    await neon.wait_for_operations(created.operations)
    branch = await neon.get_branch(project_id, main.id)
    assert branch.created_at is not None

    pitr = await neon.create_branch(
        project_id, BranchCreate(name="as-of-creation", parent_timestamp=branch.created_at)
    )
    await neon.wait_for_operations(pitr.operations)
    assert pitr.branch.parent_timestamp is not None

    restored = await neon.restore_branch(project_id, pitr.branch.id, source_branch_id=main.id)
    await neon.wait_for_operations(restored.operations)

"""Organization members and invitations.

Any member may list members and invitations; only admins (and organization keys) invite, change
a member's role or remove a member (403 otherwise). Inviting the email of an existing account
makes it a member at once; another email waits for its account (``POST /admin/users``). The last
admin can be neither removed nor demoted (400). A removed member's personal keys stop seeing the
organization's projects with their next request.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from neon_emulator import (
    bodies,
    clock,
    context,
    errors,
    lookups,
    memberships,
    pages,
    queries,
    records,
    views,
)
from neon_emulator.context import Context
from neon_emulator.routes import reply

routes = web.RouteTableDef()

MEMBERS = "/organizations/{org_id}/members"
_SORTS = ("email", "role", "joined_at")


def _member(ctx: Context, org: records.Organization, member_id: str) -> records.Member:
    found = ctx.store.members.get(member_id)
    if found is None or found.org_id != org.id:
        raise errors.NotFound(f"member {member_id} not found in organization {org.id}")
    return found


def _administered(request: web.Request) -> tuple[Context, records.Member]:
    """The ``{member_id}`` of ``{org_id}``, for a caller who must be an admin there."""
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    lookups.principal(request).require_admin(org.id)
    return ctx, _member(ctx, org, request.match_info["member_id"])


def _email(ctx: Context, member: records.Member) -> str:
    user = ctx.store.users.get(member.user_id)
    return user.email if user else ""


@routes.get(MEMBERS)
async def list_members(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    query = request.query
    sort_by = queries.choice(query, "sort_by", _SORTS, "joined_at")
    descending = queries.choice(query, "sort_order", ("asc", "desc"), "desc") == "desc"
    limit = queries.integer(query, "limit", 0, 1, 500) if "limit" in query else None

    def sort_key(member: records.Member) -> tuple[str, str]:
        value = {"email": _email(ctx, member), "role": member.role, "joined_at": member.joined_at}
        return value[sort_by], member.id

    shown, pagination = pages.page(
        memberships.members_of(ctx.store, org.id),
        sort_key,
        descending=descending,
        cursor=queries.text(query, "cursor"),
        limit=limit,
        sort_by=sort_by,
    )
    body: dict[str, object] = {
        "members": [{"member": views.member(m), "user": {"email": _email(ctx, m)}} for m in shown]
    }
    if pagination is not None:
        body["pagination"] = pagination
    return reply(body)


@routes.get(MEMBERS + "/{member_id}")
async def get_member(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    return reply(views.member(_member(ctx, org, request.match_info["member_id"])))


@routes.patch(MEMBERS + "/{member_id}")
async def update_member(request: web.Request) -> web.Response:
    ctx, member = _administered(request)
    spec = await bodies.parse(request, bodies.MemberUpdate)
    memberships.keep_an_admin(ctx.store, member, spec.role)
    member.role = spec.role
    ctx.store.members.put(member)
    return reply(views.member(member))


@routes.delete(MEMBERS + "/{member_id}")
async def remove_member(request: web.Request) -> web.Response:
    ctx, member = _administered(request)
    memberships.keep_an_admin(ctx.store, member, None)
    ctx.store.members.delete(member.id)
    return reply({})


@routes.get("/organizations/{org_id}/invitations")
async def list_invitations(request: web.Request) -> web.Response:
    ctx = context.of(request)
    org = lookups.requested_organization(request, ctx.store)
    found = [i for i in ctx.store.invitations if i.org_id == org.id]
    return reply({"invitations": [views.invitation(i) for i in found]})


@routes.post("/organizations/{org_id}/invitations")
async def create_invitations(request: web.Request) -> web.Response:
    ctx = context.of(request)
    caller = lookups.principal(request)
    org = lookups.requested_organization(request, ctx.store)
    caller.require_admin(org.id)
    spec = await bodies.parse(request, bodies.InvitationsCreate)
    members = {_email(ctx, m).lower() for m in memberships.members_of(ctx.store, org.id)}
    pending = {
        i.email.lower() for i in ctx.store.invitations if i.org_id == org.id and not i.accepted_at
    }
    seen: set[str] = set()
    for index, wanted in enumerate(spec.invitations):
        email = wanted.email.lower()
        field = f"invitations[{index}].email"
        if email in seen:
            raise errors.BadRequest(f"{field}: {wanted.email} is listed twice")
        if email in members:
            raise errors.Conflict(f"{field}: {wanted.email} is already a member of {org.id}")
        if email in pending:
            raise errors.Conflict(f"{field}: {wanted.email} is already invited to {org.id}")
        seen.add(email)
    created = []
    for wanted in spec.invitations:
        invitation = ctx.store.invitations.put(
            records.Invitation(
                id=str(uuid.uuid4()),
                org_id=org.id,
                email=wanted.email,
                role=wanted.role,
                invited_by=caller.user_id,
                invited_at=clock.now_iso(),
            )
        )
        user = memberships.user_by_email(ctx.store, wanted.email)
        if user is not None:
            memberships.accept_invitations(ctx.store, user)
        created.append(invitation)
    return reply({"invitations": [views.invitation(i) for i in created]})

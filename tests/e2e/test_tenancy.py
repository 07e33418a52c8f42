"""Tenancy on the real apiserver: what a tenant with the built-in ``edit`` role can reach.

The tenant is a ServiceAccount of its namespace bound to ``edit``, which gains the operator's
kinds through an aggregated ClusterRole (as the chart's ``rbac.aggregateToDefaultRoles`` does).
Every tenant request below is made *as* that ServiceAccount, through impersonation, so the
apiserver's real authorizer and admission policies answer. The rule under test:

* the API key lives in the operator's namespace and in NeonConfigs, neither readable by tenants;
* references never leave the namespace, so nothing a tenant writes in its namespace makes the
  operator write or act in another;
* a NeonConfig serves only the namespaces it grants: admission refuses the rest, and the
  operator refuses too when admission could not know (a grant revoked or made later).
"""

from __future__ import annotations

import functools
import json
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from neon_operator import grants
from neon_operator.devstack import stack as devstack

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "neon.operator.dev", "v1alpha1", "neonappdatabases"
CASES = json.loads((pathlib.Path(__file__).resolve().parents[1] / "grant_cases.json").read_text())
"""The unit tier's grant cases (``tests/operator/test_grants.py``), asked of the real policy."""

KINDS = ("neonappdatabases", "neonbranches", "neonsnapshots", "neonrestores")


def as_user(local_stack: devstack.Stack, user: str) -> ApiClient:
    """A client of the session's apiserver whose every request is made as ``user``
    (a ServiceAccount user gets its groups from the apiserver)."""
    api = config.new_client_from_config(config_file=str(local_stack.kubeconfig))
    api.set_default_header("Impersonate-User", user)
    return api


@pytest.fixture
def other_namespace(make_namespace: Callable[..., str]) -> str:
    """Namespace B: another tenant's, served by the session operator too."""
    return make_namespace("t-")


@pytest.fixture
def tenant(
    kube_api: ApiClient,
    local_stack: devstack.Stack,
    namespace: str,
    bind_edit: Callable[[str, dict[str, str]], None],
) -> Iterator[ApiClient]:
    """A client acting as ServiceAccount ``tenant`` of ``namespace``, bound to ``edit`` there."""
    core = client.CoreV1Api(kube_api)
    rbac = client.RbacAuthorizationV1Api(kube_api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "tenant"}})
    bind_edit(namespace, {"kind": "ServiceAccount", "name": "tenant", "namespace": namespace})
    aggregated = "neon-tenancy-edit-" + namespace
    rbac.create_cluster_role(
        {
            "metadata": {
                "name": aggregated,
                "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
            },
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": [*KINDS, "neonsnapshotschedules"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                }
            ],
        }
    )
    api = as_user(local_stack, f"system:serviceaccount:{namespace}:tenant")
    try:
        # Aggregation into `edit` is asynchronous (the clusterrole-aggregation controller).
        deadline = time.monotonic() + 30
        while not may(api, "create", "neonappdatabases", namespace, GROUP):
            assert time.monotonic() < deadline, "edit never gained neonappdatabases"
            time.sleep(0.2)
        yield api
    finally:
        api.close()
        rbac.delete_cluster_role(aggregated)


def may(api: ApiClient, verb: str, resource: str, namespace: str, group: str = "") -> bool:
    """What the apiserver's authorizer answers the impersonated user (a SelfSubjectAccessReview)."""
    subresource = ""
    if "/" in resource:
        resource, subresource = resource.split("/", 1)
    attributes = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
    if subresource:
        attributes["subresource"] = subresource
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": attributes}}
    )
    return bool(review.status.allowed)


def ready_condition(obj: dict[str, Any] | None) -> dict[str, Any]:
    found = [c for c in (obj or {}).get("status", {}).get("conditions", []) if c["type"] == "Ready"]
    return dict(found[0]) if found else {}


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """The HTTP status of a create: 201, or the status of its refusal."""
    try:
        call(*args, **kwargs)
    except ApiException as error:
        return int(error.status)
    return 201


def wait_for(
    read: Callable[[], dict[str, Any]], check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """``read()`` once ``check`` holds for it (within a minute)."""
    deadline = time.monotonic() + 60
    while not check(body := read()):
        assert time.monotonic() < deadline, f"never happened; last seen: {body}"
        time.sleep(0.25)
    return body


def refused(call: Callable[[], Any]) -> ApiException:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value


def app_body(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NeonAppDatabase",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_a_tenant_with_edit_cannot_read_the_api_key(
    tenant: ApiClient, namespace: str, local_stack: devstack.Stack
) -> None:
    core = client.CoreV1Api(tenant)
    objects = client.CustomObjectsApi(tenant)
    key_namespace, key_name = devstack.OPERATOR_NAMESPACE, devstack.API_KEY_SECRET

    assert refused(lambda: core.read_namespaced_secret(key_name, key_namespace)).status == 403
    assert refused(lambda: core.list_namespaced_secret(key_namespace)).status == 403
    assert refused(lambda: core.list_secret_for_all_namespaces()).status == 403
    # Nor the NeonConfig that says where the key is, nor a change to it.
    get_config = lambda: objects.get_cluster_custom_object(  # noqa: E731
        GROUP, VERSION, "neonconfigs", devstack.DEFAULT_CONFIG
    )
    assert refused(get_config).status == 403
    patch = {"spec": {"allowedNamespaces": [namespace]}}
    patch_config = lambda: objects.patch_cluster_custom_object(  # noqa: E731
        GROUP, VERSION, "neonconfigs", devstack.DEFAULT_CONFIG, patch
    )
    assert refused(patch_config).status == 403
    # Ids in status are the operator's alone: a tenant cannot point its app at another project.
    assert not may(tenant, "patch", "neonappdatabases/status", namespace, GROUP)
    assert not may(tenant, "update", "neonbranches/status", namespace, GROUP)
    # …while its own namespace is its own.
    assert may(tenant, "create", "neonappdatabases", namespace, GROUP)
    assert may(tenant, "get", "secrets", namespace)


def test_a_tenant_cannot_touch_another_namespaces_apps_snapshots_or_branches(
    tenant: ApiClient, other_namespace: str
) -> None:
    objects = client.CustomObjectsApi(tenant)
    for plural in KINDS:
        for verb in ("get", "list", "create", "patch", "delete"):
            assert not may(tenant, verb, plural, other_namespace, GROUP), (verb, plural)
    listing = lambda: objects.list_namespaced_custom_object(  # noqa: E731
        GROUP, VERSION, other_namespace, "neonappdatabases"
    )
    assert refused(listing).status == 403
    creating = lambda: objects.create_namespaced_custom_object(  # noqa: E731
        GROUP, VERSION, other_namespace, "neonappdatabases", app_body("mine", {})
    )
    assert refused(creating).status == 403
    assert not may(tenant, "get", "secrets", other_namespace)


@pytest.mark.parametrize(
    ("plural", "kind", "spec", "field"),
    [
        ("neonbranches", "NeonBranch", {"appDatabaseRef": {"name": "victim"}}, "appDatabaseRef"),
        ("neonsnapshots", "NeonSnapshot", {"appDatabaseRef": {"name": "victim"}}, "appDatabaseRef"),
        ("neonrestores", "NeonRestore", {"snapshotRef": {"name": "victim"}}, "snapshotRef"),
    ],
)
def test_a_tenant_cannot_reference_another_namespaces_objects(
    tenant: ApiClient,
    namespace: str,
    other_namespace: str,
    plural: str,
    kind: str,
    spec: dict[str, Any],
    field: str,
) -> None:
    spec[field] = {**spec[field], "namespace": other_namespace}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": "x"}}
    create = lambda: client.CustomObjectsApi(tenant).create_namespaced_custom_object(  # noqa: E731
        GROUP, VERSION, namespace, plural, {**body, "spec": spec}
    )

    error = refused(create)

    assert error.status == 422
    assert f"spec.{field}.namespace" in error.body


def test_what_a_tenant_writes_makes_the_operator_write_only_in_its_namespace(
    tenant: ApiClient,
    namespace: str,
    other_namespace: str,
    apps_in: Callable[[str], Any],
    operator: Any,
    neon: Any,
) -> None:
    mine, theirs = apps_in(namespace), apps_in(other_namespace)
    theirs.create("victim", {})
    victim = theirs.wait_condition("victim", "True", "ProjectReady")
    before = theirs.secret_object("victim-neon").metadata.resource_version
    objects = client.CustomObjectsApi(tenant)
    # A Secret reference has no namespace: asked strictly, the apiserver refuses the field…
    stray = {"name": "victim-neon", "namespace": other_namespace}
    strict = lambda: objects.create_namespaced_custom_object(  # noqa: E731
        GROUP,
        VERSION,
        namespace,
        "neonappdatabases",
        app_body("app", {"connectionSecret": stray}),
        field_validation="Strict",
    )
    assert "namespace" in refused(strict).body
    # …and asked leniently, it drops it: the Secret is written next to the app, in A.
    objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "neonappdatabases", app_body("app", {"connectionSecret": stray})
    )
    # A branch naming B's app by its name alone means an app of that name in A, of which
    # there is none: the operator waits, and B's project gains no branch.
    objects.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "neonbranches",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NeonBranch",
            "metadata": {"name": "peek"},
            "spec": {"appDatabaseRef": {"name": "victim"}},
        },
    )

    mine.wait_condition("app", "True", "ProjectReady")
    assert mine.secret("victim-neon") is not None
    after = theirs.secret_object("victim-neon")
    assert after.metadata.owner_references[0].uid == victim["metadata"]["uid"]
    assert after.metadata.resource_version == before
    peek = wait_for(
        lambda: objects.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "neonbranches", "peek"
        ),
        lambda body: ready_condition(body).get("reason") == "ParentNotFound",
    )
    assert f"namespace {namespace!r}" in ready_condition(peek)["message"]
    project_id = victim["status"]["projectId"]
    assert len(neon.get(f"/projects/{project_id}/branches")["branches"]) == 1
    # Nor can B's project be adopted by id: it was made for namespace B.
    thief = app_body("thief", {"adoptProjectId": project_id})
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, thief)
    stopped = mine.wait_condition("thief", "False", "AdoptionRefused")
    assert f"namespace {other_namespace!r}" in ready_condition(stopped)["message"]
    assert mine.secret("thief-neon") is None
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "thief")
    mine.wait("thief", lambda obj: obj is None, "deleted")
    assert neon.project_exists(project_id)
    theirs.wait_condition("victim", "True", "ProjectReady")


@pytest.fixture
def neon_configs(kube_api: ApiClient) -> Iterator[Callable[..., str]]:
    """Create NeonConfigs like the session's ``default`` (same key and organizations) with the
    given grant; each is deleted afterwards."""
    objects = client.CustomObjectsApi(kube_api)
    args = (GROUP, VERSION, "neonconfigs")
    default = objects.get_cluster_custom_object(*args, devstack.DEFAULT_CONFIG)
    made: list[str] = []

    def create(**grant: Any) -> str:
        name = "grant-" + uuid.uuid4().hex[:8]
        spec = {
            key: value
            for key, value in default["spec"].items()
            if key not in ("allowedNamespaces", "namespaceSelector")
        }
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NeonConfig",
            "metadata": {"name": name},
            "spec": {**spec, **grant},
        }
        objects.create_cluster_custom_object(*args, body)
        made.append(name)
        return name

    yield create
    for name in made:
        objects.delete_cluster_custom_object(*args, name)


def admission_sees(api: ApiClient, namespace: str, config_name: str) -> None:
    """Wait until the admission policies have NeonConfig ``config_name`` as a parameter
    (policies read parameters from an informer): the tier policy refuses a tier it lacks, or
    the grant policy, if it answers first, refuses this namespace by that NeonConfig's name."""
    objects = client.CustomObjectsApi(api)
    body = app_body("probe", {"configRef": {"name": config_name}, "tier": "no-such-tier"})
    seen = ("unknown tier", f'NeonConfig \\"{config_name}\\" is not granted')
    deadline = time.monotonic() + 30
    while True:
        try:
            objects.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "neonappdatabases", body, dry_run="All"
            )
        except ApiException as error:
            if any(text in error.body for text in seen):
                return
            raise
        assert time.monotonic() < deadline, f"admission never saw NeonConfig {config_name}"
        time.sleep(0.2)


def test_admission_refuses_an_app_naming_a_neonconfig_its_namespace_is_not_granted(
    tenant: ApiClient,
    namespace: str,
    other_namespace: str,
    neon_configs: Callable[..., str],
    kube_api: ApiClient,
) -> None:
    theirs = neon_configs(allowedNamespaces=[other_namespace])
    admission_sees(kube_api, namespace, theirs)
    objects = client.CustomObjectsApi(tenant)
    create = functools.partial(
        objects.create_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL
    )

    error = refused(lambda: create(app_body("a", {"configRef": {"name": theirs}})))

    assert error.status == 403
    assert "spec.configRef.name" in error.body
    assert f'NeonConfig \\"{theirs}\\" is not granted to namespace \\"{namespace}\\"' in error.body
    assert "spec.allowedNamespaces" in error.body
    # Switching an existing app over to it is refused alike.
    paused = app_body("b", {})
    paused["metadata"]["annotations"] = {"neon.operator.dev/paused": "true"}  # no Neon project
    create(paused)
    switch = {"spec": {"configRef": {"name": theirs}}}
    switching = lambda: objects.patch_namespaced_custom_object(  # noqa: E731
        GROUP, VERSION, namespace, PLURAL, "b", switch
    )
    assert "spec.configRef.name" in refused(switching).body
    labelled = neon_configs(namespaceSelector={"matchLabels": {"tenancy": namespace}})
    admission_sees(kube_api, namespace, labelled)
    with_label = functools.partial(
        create, app_body("c", {"configRef": {"name": labelled}}), dry_run="All"
    )
    assert refused(with_label).status == 403
    # Tenants cannot label their own namespace (edit has no write on Namespaces): an admin does.
    assert not may(tenant, "patch", "namespaces", "")
    client.CoreV1Api(kube_api).patch_namespace(
        namespace, {"metadata": {"labels": {"tenancy": namespace}}}
    )
    deadline = time.monotonic() + 30
    while (status := outcome(with_label)) == 403:  # the policy reads namespaces from an informer
        assert time.monotonic() < deadline, "the labelled namespace was never granted"
        time.sleep(0.2)
    assert status == 201


@pytest.fixture(scope="module")
def case_namespaces(kube_api: ApiClient) -> Iterator[None]:
    """The namespaces the unit tier's grant cases name, labelled as those cases say."""
    core = client.CoreV1Api(kube_api)
    names = sorted({case["namespace"] for case in CASES})
    labels = {"team": "a", "env": "prod"}
    assert all(case["labels"] in ({}, labels) for case in CASES)
    for name in names:
        core.create_namespace({"metadata": {"name": name, "labels": labels}})
    try:
        yield
    finally:
        for name in names:
            core.delete_namespace(name)


def test_admission_decides_every_grant_case_as_the_operator_does(
    kube_api: ApiClient, case_namespaces: None, neon_configs: Callable[..., str]
) -> None:
    """The CEL policy and :func:`neon_operator.grants.granted` agree on the unit tier's cases.

    Every case namespace carries the labels ``team=a, env=prod``; where a case gives no labels,
    its grant is decided by name alone, so the labels do not change the answer.
    """
    objects = client.CustomObjectsApi(kube_api)
    answers = []
    for case in CASES:
        grant, namespace, expected = case["grant"], case["namespace"], case["granted"]
        name = neon_configs(**grant)
        admission_sees(kube_api, namespace, name)
        body = app_body("probe", {"configRef": {"name": name}})
        create = objects.create_namespaced_custom_object
        status = outcome(create, GROUP, VERSION, namespace, PLURAL, body, dry_run="All")
        assert status in (201, 403)
        answers.append((grant, namespace, status == 201, expected))
    assert [a for a in answers if a[2] != a[3]] == []


def test_the_operator_refuses_a_neonconfig_not_granted_when_admission_could_not_know(
    namespace: str,
    other_namespace: str,
    apps_in: Callable[[str], Any],
    operator: Any,
    neon_configs: Callable[..., str],
    kube_api: ApiClient,
    neon: Any,
) -> None:
    mine = apps_in(namespace)
    objects = client.CustomObjectsApi(kube_api)
    # The app names a NeonConfig that does not exist yet: admission has nothing to check.
    late = "late-" + uuid.uuid4().hex[:8]
    mine.create("app", {"configRef": {"name": late}, "projectName": f"tenancy-{namespace}"})
    mine.wait_condition("app", "False", "NeonConfigNotFound")
    # Then an admin creates it for another namespace only.
    default = objects.get_cluster_custom_object(
        GROUP, VERSION, "neonconfigs", devstack.DEFAULT_CONFIG
    )
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NeonConfig",
        "metadata": {"name": late},
        "spec": {**default["spec"], "allowedNamespaces": [other_namespace]},
    }
    objects.create_cluster_custom_object(GROUP, VERSION, "neonconfigs", body)
    try:
        refused_app = mine.wait_condition("app", "False", grants.REASON)
        message = ready_condition(refused_app)["message"]
        assert f"NeonConfig {late!r} is not granted to namespace {namespace!r}" in message
        assert "spec.allowedNamespaces" in message
        assert "spec.configRef.name" in message
        assert neon.projects(search=f"tenancy-{namespace}") == []

        # Granted: it is provisioned.
        grant = {"spec": {"allowedNamespaces": [other_namespace, namespace]}}
        objects.patch_cluster_custom_object(GROUP, VERSION, "neonconfigs", late, grant)
        ready = mine.wait_condition("app", "True", "ProjectReady")
        project_id = ready["status"]["projectId"]

        # Revoked: the next resync stops it, and its Secret stays as it was.
        revoke = {"spec": {"allowedNamespaces": [other_namespace]}}
        objects.patch_cluster_custom_object(GROUP, VERSION, "neonconfigs", late, revoke)
        mine.wait(
            "app",
            lambda obj: obj is not None and ready_condition(obj).get("reason") == grants.REASON,
            "NeonConfigNotGranted after the grant was revoked",
        )
        assert mine.secret("app-neon") is not None

        # Deleting still cleans up what the operator made in Neon.
        mine.delete("app")
        mine.wait("app", lambda obj: obj is None, "deleted")
        assert not neon.project_exists(project_id)
    finally:
        objects.delete_cluster_custom_object(GROUP, VERSION, "neonconfigs", late)

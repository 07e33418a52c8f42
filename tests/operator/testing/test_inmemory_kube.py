"""The in-memory Kube answers as KubeClient over a real apiserver does, for what reconcilers use:
404/409, resourceVersion, generation, the status subresource, finalizers, garbage collection,
label selectors and Events."""

from __future__ import annotations

import pytest
from kubernetes.aio.client.exceptions import ApiException

from neon_operator import kube
from neon_operator.testing import InMemoryKube

pytestmark = pytest.mark.unit

APPS = "neonappdatabases"
OWNER = kube.ObjectRef(kind="NeonAppDatabase", plural=APPS, name="app", namespace="ns", uid="u-1")


def app(name: str = "app", **metadata: object) -> dict[str, object]:
    return {
        "kind": "NeonAppDatabase",
        "metadata": {"name": name, **metadata},
        "spec": {"tier": "free"},
        "status": {"projectId": "forged"},
    }


def ref_of(body: dict[str, object]) -> kube.ObjectRef:
    meta = body["metadata"]
    assert isinstance(meta, dict)
    return kube.ObjectRef(
        kind="NeonAppDatabase", plural=APPS, name=meta["name"], namespace="ns", uid=meta["uid"]
    )


async def test_missing_objects_read_as_none_and_deleting_or_patching_them_is_a_no_op() -> None:
    fake = InMemoryKube()

    assert await fake.read_secret("ns", "nope") is None
    assert await fake.read_object(OWNER) is None
    assert await fake.read_cluster_object("neonconfigs", "default") is None
    assert await fake.patch_object(OWNER, {"spec": {"tier": "paid"}}) is None
    await fake.patch_status(OWNER, {"projectId": "p"})
    await fake.delete_secret("ns", "nope")
    await fake.delete_object(OWNER)
    assert fake.get(APPS, "app", namespace="ns") is None


async def test_creating_a_taken_name_is_refused() -> None:
    fake = InMemoryKube()

    assert await fake.create_object(APPS, "ns", app()) is True
    assert await fake.create_object(APPS, "ns", app()) is False
    with pytest.raises(ApiException) as raised:
        fake.create(APPS, app(), namespace="ns")
    assert raised.value.status == 409
    assert await fake.create_object(APPS, "other", app()) is True


async def test_create_assigns_identity_and_replaces_status_with_the_crds_default() -> None:
    fake = InMemoryKube()

    created = fake.create(APPS, app(), namespace="ns")

    meta = created["metadata"]
    assert meta["uid"]
    assert meta["generation"] == 1
    assert meta["namespace"] == "ns"
    assert created["status"] == {"observedGeneration": 0}


async def test_spec_changes_bump_generation_and_metadata_changes_do_not() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))

    annotated = await fake.patch_object(ref, {"metadata": {"annotations": {"a": "b"}}})
    respecced = await fake.patch_object(ref, {"spec": {"tier": "paid"}})
    await fake.patch_status(ref, {"projectId": "p-1"})

    assert annotated is not None
    assert respecced is not None
    assert annotated["metadata"]["generation"] == 1
    assert respecced["metadata"]["generation"] == 2
    body = await fake.read_object(ref)
    assert body is not None
    assert body["metadata"]["generation"] == 2


async def test_status_is_written_only_through_the_status_subresource() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))

    await fake.patch_status(ref, {"projectId": "p-1", "conditions": [{"type": "Ready"}]})
    patched = await fake.patch_object(ref, {"status": {"projectId": "forged"}, "spec": {"x": 1}})
    await fake.patch_status(ref, {"conditions": None})

    assert patched is not None
    assert patched["status"] == {
        "observedGeneration": 0,
        "projectId": "p-1",
        "conditions": [{"type": "Ready"}],
    }
    body = await fake.read_object(ref)
    assert body is not None
    assert body["status"] == {"observedGeneration": 0, "projectId": "p-1"}


async def test_every_change_gets_a_new_resource_version_and_a_no_op_keeps_it() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))
    first = (await fake.read_object(ref) or {})["metadata"]["resourceVersion"]

    same = await fake.patch_object(ref, {"spec": {"tier": "free"}})
    await fake.patch_status(ref, {"projectId": "p"})
    after_status = (await fake.read_object(ref) or {})["metadata"]["resourceVersion"]

    assert same is not None
    assert same["metadata"]["resourceVersion"] == first
    assert int(after_status) > int(first)


async def test_a_write_at_a_stale_resource_version_conflicts() -> None:
    fake = InMemoryKube()
    read = fake.create(APPS, app(), namespace="ns")
    ref = ref_of(read)
    await fake.patch_object(ref, {"spec": {"tier": "paid"}})  # someone else wrote meanwhile

    stale = read["metadata"]["resourceVersion"]
    with pytest.raises(kube.Conflict):
        await fake.patch_object(ref, {"metadata": {"resourceVersion": stale, "labels": {"a": "b"}}})
    with pytest.raises(kube.Conflict):
        await fake.patch_object(ref, {"metadata": {"labels": {"a": "b"}}}, resource_version=stale)
    with pytest.raises(kube.Conflict):
        await fake.patch_status(ref, {"projectId": "p"}, resource_version=stale)
    with pytest.raises(ApiException) as patched:
        fake.patch(APPS, "app", {"metadata": {"resourceVersion": stale}}, namespace="ns")
    with pytest.raises(ApiException) as replaced:
        fake.replace(APPS, read)

    assert patched.value.status == 409
    assert replaced.value.status == 409
    body = await fake.read_object(ref)
    assert body is not None
    assert body["spec"] == {"tier": "paid"}
    assert "labels" not in body["metadata"]
    assert body["status"] == {"observedGeneration": 0}  # the CRD's default; the stale write missed


async def test_a_write_at_the_current_resource_version_lands() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))
    version = (await fake.read_object(ref) or {})["metadata"]["resourceVersion"]

    await fake.patch_status(ref, {"projectId": "p"}, resource_version=version)
    version = (await fake.read_object(ref) or {})["metadata"]["resourceVersion"]
    patched = await fake.patch_object(ref, {"spec": {"tier": "paid"}}, resource_version=version)

    assert patched is not None
    assert (patched["spec"], patched["status"]) == (
        {"tier": "paid"},
        {"observedGeneration": 0, "projectId": "p"},
    )
    gone = kube.ObjectRef(kind="NeonAppDatabase", plural=APPS, name="x", namespace="ns", uid="")
    assert await fake.patch_object(gone, {"spec": {}}, resource_version=version) is None
    await fake.patch_status(gone, {"projectId": "p"}, resource_version=version)


async def test_a_replace_at_the_current_version_succeeds_and_keeps_status() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))
    await fake.patch_status(ref, {"projectId": "p"})
    current = await fake.read_object(ref)
    assert current is not None

    current["spec"] = {"tier": "paid"}
    current["status"] = {"projectId": "forged"}
    replaced = fake.replace(APPS, current)

    assert replaced["spec"] == {"tier": "paid"}
    assert replaced["status"] == {"observedGeneration": 0, "projectId": "p"}
    assert replaced["metadata"]["generation"] == 2


async def test_reads_are_copies() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))

    body = await fake.read_object(ref)
    assert body is not None
    body["spec"]["tier"] = "mutated"

    again = await fake.read_object(ref)
    assert again is not None
    assert again["spec"]["tier"] == "free"


async def test_write_secret_creates_with_its_owner_as_controller() -> None:
    fake = InMemoryKube()

    await fake.write_secret(
        "ns",
        "s",
        data={"PGPASSWORD": "pw1", "X": "1", "gone": None},
        labels={"l": "1"},
        annotations={"a": None},
        owner=OWNER,
    )

    secret = await fake.read_secret("ns", "s")
    assert secret is not None
    assert (secret.data, secret.labels, secret.annotations) == (
        {"PGPASSWORD": "pw1", "X": "1"},
        {"l": "1"},
        {},
    )
    assert secret.controller_uid == "u-1"
    assert secret.owner_references == (OWNER.owner_reference(),)
    stored = fake.get("secrets", "s", namespace="ns")
    assert stored is not None
    assert (secret.uid, secret.resource_version) == (
        stored["metadata"]["uid"],
        stored["metadata"]["resourceVersion"],
    )
    assert stored["data"]["PGPASSWORD"] == "cHcx"  # base64 on the wire


async def test_creating_a_secret_that_exists_conflicts_and_leaves_it_alone() -> None:
    fake = InMemoryKube()
    fake.create_secret("ns", "s", {"mine": "1"})

    with pytest.raises(kube.Conflict):
        await fake.write_secret("ns", "s", data={"x": "2"}, labels={}, annotations={}, owner=OWNER)

    secret = await fake.read_secret("ns", "s")
    assert secret is not None
    assert (secret.data, secret.controller_uid) == ({"mine": "1"}, None)


async def test_write_secret_at_the_version_read_merges_and_takes_control() -> None:
    fake = InMemoryKube()
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u-c"}
    former = {**OWNER.owner_reference(), "name": "former", "uid": "u-0"}
    fake.create_secret(
        "ns",
        "s",
        {"A": "1", "B": "2", "theirs": "t"},
        labels={"l": "1", "theirs": "t"},
        annotations={"a": "1"},
        owner_references=[other, former],
    )
    read = await fake.read_secret("ns", "s")
    assert read is not None

    await fake.write_secret(
        "ns",
        "s",
        data={"A": "3", "B": None},
        labels={"l": None},
        annotations={"a": "2"},
        owner=OWNER,
        current=read,
    )

    secret = await fake.read_secret("ns", "s")
    assert secret is not None
    assert secret.data == {"A": "3", "theirs": "t"}
    assert (secret.labels, secret.annotations) == ({"theirs": "t"}, {"a": "2"})
    assert secret.owner_references == (other, OWNER.owner_reference())
    assert secret.uid == read.uid
    assert int(secret.resource_version) > int(read.resource_version)


async def test_write_secret_at_a_stale_version_or_after_it_vanished_conflicts() -> None:
    fake = InMemoryKube()
    await fake.write_secret("ns", "s", data={"A": "1"}, labels={}, annotations={}, owner=OWNER)
    read = await fake.read_secret("ns", "s")
    assert read is not None
    fake.patch("secrets", "s", {"data": {"A": "b3RoZXI="}}, namespace="ns")  # someone else

    with pytest.raises(kube.Conflict):
        await fake.write_secret(
            "ns", "s", data={"A": "2"}, labels={}, annotations={}, owner=OWNER, current=read
        )
    secret = await fake.read_secret("ns", "s")
    assert secret is not None
    assert secret.data == {"A": "other"}

    await fake.delete_secret("ns", "s")
    with pytest.raises(kube.Conflict):
        await fake.write_secret(
            "ns", "s", data={"A": "2"}, labels={}, annotations={}, owner=OWNER, current=secret
        )
    assert await fake.read_secret("ns", "s") is None


async def test_delete_secret_with_the_version_read_is_a_precondition() -> None:
    fake = InMemoryKube()
    fake.create_secret("ns", "s", {"A": "1"})
    read = await fake.read_secret("ns", "s")
    assert read is not None
    fake.patch("secrets", "s", {"metadata": {"labels": {"x": "y"}}}, namespace="ns")

    with pytest.raises(kube.Conflict):
        await fake.delete_secret("ns", "s", current=read)
    fresh = await fake.read_secret("ns", "s")
    assert fresh is not None
    fake.delete("secrets", "s", namespace="ns")
    fake.create_secret("ns", "s", {"A": "namesake"})
    with pytest.raises(kube.Conflict):
        await fake.delete_secret("ns", "s", current=fresh)  # same name, another uid
    namesake = await fake.read_secret("ns", "s")
    assert namesake is not None

    await fake.delete_secret("ns", "s", current=namesake)
    await fake.delete_secret("ns", "s", current=namesake)  # already gone: a no-op
    assert await fake.read_secret("ns", "s") is None


async def test_delete_object_leaves_a_namesake_with_another_uid_alone() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(), namespace="ns"))
    fake.delete(APPS, "app", namespace="ns")
    namesake = fake.create(APPS, app(), namespace="ns")

    await fake.delete_object(ref)

    assert fake.get(APPS, "app", namespace="ns") == namesake
    await fake.delete_object(ref_of(namesake))
    assert fake.get(APPS, "app", namespace="ns") is None


async def test_a_finalizer_holds_deletion_until_it_is_removed() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(finalizers=["f"]), namespace="ns"))

    await fake.delete_object(ref)
    held = await fake.read_object(ref)
    fake.remove_finalizer(APPS, "app", "f", namespace="ns")

    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    assert await fake.read_object(ref) is None


async def test_deleting_an_owner_collects_what_it_alone_owned() -> None:
    fake = InMemoryKube()
    owner = ref_of(fake.create(APPS, app(), namespace="ns"))
    other = ref_of(fake.create(APPS, app("other"), namespace="ns"))
    await fake.write_secret("ns", "owned", data={}, labels={}, annotations={}, owner=owner)
    fake.create_secret(
        "ns",
        "shared",
        {},
        owner_references=[owner.owner_reference(), other.owner_reference()],
    )
    fake.create_secret("ns", "unowned", {})

    fake.delete(APPS, "app", namespace="ns")

    assert await fake.read_secret("ns", "owned") is None
    assert await fake.read_secret("ns", "shared") is not None
    assert await fake.read_secret("ns", "unowned") is not None


async def test_cluster_scoped_objects_ignore_the_namespace() -> None:
    fake = InMemoryKube()
    fake.create("neonconfigs", {"metadata": {"name": "default", "namespace": "x"}, "spec": {}})

    found = await fake.read_cluster_object("neonconfigs", "default")

    assert found is not None
    assert "namespace" not in found["metadata"]


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        (None, ["a", "b", "c"]),
        ("tier=free", ["a"]),
        ("tier==free", ["a"]),
        ("tier!=free", ["b", "c"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c"]),
        ("tier in (free, paid)", ["a", "b"]),
        ("tier notin (free)", ["b", "c"]),
        ("tier,team=x", ["b"]),
    ],
)
async def test_label_selectors_select_as_the_apiserver_does(
    selector: str | None, names: list[str]
) -> None:
    fake = InMemoryKube()
    fake.create(APPS, app("a", labels={"tier": "free"}), namespace="ns")
    fake.create(APPS, app("b", labels={"tier": "paid", "team": "x"}), namespace="ns")
    fake.create(APPS, app("c", labels={"team": "y"}), namespace="ns")
    fake.create(APPS, app("d", labels={"tier": "free"}), namespace="elsewhere")

    found = await fake.list_objects(APPS, "ns", label_selector=selector)

    assert [body["metadata"]["name"] for body in found] == names


async def test_a_selector_it_cannot_read_fails_loudly() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        await InMemoryKube().list_objects(APPS, "ns", label_selector="tier>1")


async def test_events_are_recorded_and_cut_like_the_real_client() -> None:
    fake = InMemoryKube()

    await fake.post_event(OWNER, "Warning", "Why", "x" * 2000)

    (event,) = fake.events_about("app")
    assert (event.type, event.reason, len(event.message)) == ("Warning", "Why", 1024)


async def test_removing_the_last_finalizer_by_a_patch_completes_the_deletion() -> None:
    fake = InMemoryKube()
    ref = ref_of(fake.create(APPS, app(finalizers=["f", "g"]), namespace="ns"))
    await fake.delete_object(ref)

    one_left = await fake.patch_object(ref, {"metadata": {"finalizers": ["g"]}})
    none_left = await fake.patch_object(ref, {"metadata": {"finalizers": None}})

    assert one_left is not None
    assert none_left is not None
    assert none_left["metadata"]["deletionTimestamp"]
    assert await fake.read_object(ref) is None

"""ValidatingAdmissionPolicies for what one object's CRD schema cannot check by itself.

**Tiers.** A NeonAppDatabase whose tier its NeonConfig lacks is refused.

CRD validation (CEL in the schema) sees one object at a time; whether ``spec.tier`` is a key of
the named NeonConfig's ``spec.organizations`` needs that second object. A
ValidatingAdmissionPolicy (GA since Kubernetes 1.30) takes NeonConfigs as parameters: the binding
selects all of them, and the rule only bites for the one the object names in
``spec.configRef.name``. It checks creations and changes of tier or configRef, never the
operator's own metadata updates (finalizer removal must work even if a tier was dropped later),
and lets objects through when no NeonConfig exists (the operator then reports
``NeonConfigNotFound``).

**Grants.** A NeonAppDatabase may name only a NeonConfig granted to its namespace
(:mod:`neon_operator.grants`): the NeonConfig is again a parameter, and the Namespace's labels
(for ``spec.namespaceSelector``) come from ``namespaceObject``. Checked on creation and on a
change of ``configRef``, like the tier; a grant revoked later is the operator's to report
(``NeonConfigNotGranted``).

**Local references.** NeonBranch, NeonSnapshot, NeonRestore and NeonSnapshotSchedule name
their parents by name in their own namespace. A reference that names a namespace is refused
unless it is the object's own: CRD validation rules cannot read ``metadata.namespace``, a policy
can. (Without the field, a client that does not ask for strict validation would have the
namespace silently pruned and the reference retargeted to a same-named object.)
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from neon_operator import grants

__all__ = [
    "GRANT_POLICY",
    "LOCAL_REFERENCES",
    "LOCAL_REFERENCES_POLICY",
    "POLICY_NAME",
    "install",
    "manifests",
    "render",
]

POLICY_NAME: Final = "neonappdatabase-tier.neon.operator.dev"
GRANT_POLICY: Final = "neonconfig-grants.neon.operator.dev"
LOCAL_REFERENCES_POLICY: Final = "local-references.neon.operator.dev"
LOCAL_REFERENCES: Final = {
    "appDatabaseRef": ("neonbranches", "neonsnapshots", "neonsnapshotschedules"),
    "parentBranchRef": ("neonbranches",),
    "snapshotRef": ("neonrestores",),
    "targetBranchRef": ("neonrestores",),
}

_CONFIG = (
    "has(object.spec.configRef) && has(object.spec.configRef.name) "
    "? object.spec.configRef.name : 'default'"
)
_TIER = "has(object.spec.tier) ? object.spec.tier : 'free'"


def manifests() -> list[dict[str, Any]]:
    """The policies and their bindings."""
    tier = _config_policy(
        POLICY_NAME,
        chosen=(
            "tier-or-config-chosen",
            "object.spec.tier != oldObject.spec.tier || "
            "object.spec.configRef != oldObject.spec.configRef",
        ),
        variables={"tier": _TIER},
        validation={
            "expression": "variables.tier in params.spec.organizations",
            "messageExpression": (
                "'spec.tier: unknown tier \"' + variables.tier + '\": NeonConfig \"' + "
                "params.metadata.name + '\" maps only the tiers ' + "
                "params.spec.organizations.map(t, t).join(', ') + "
                "'; use one of them or add the tier to the NeonConfig'"
            ),
            "reason": "Invalid",
        },
    )
    return [*tier, *_grants(), *_local_references()]


def _config_policy(
    name: str,
    *,
    chosen: tuple[str, str],
    variables: dict[str, str],
    validation: dict[str, str],
) -> list[dict[str, Any]]:
    """A policy on NeonAppDatabases with every NeonConfig as a parameter, and its binding.

    It runs on creation and when ``chosen`` (a name and a CEL condition on ``object`` and
    ``oldObject``) holds for an update of an object not being deleted, so the operator's own
    metadata updates always pass. ``validation`` bites only for the NeonConfig the object names
    (``variables.configName``); with no NeonConfig at all, everything passes.
    """
    condition_name, condition = chosen
    expression = f"params.metadata.name != variables.configName || ({validation['expression']})"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "neon.operator.dev/v1alpha1", "kind": "NeonConfig"},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["neon.operator.dev"],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["neonappdatabases"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": condition_name,
                    "expression": (
                        "request.operation == 'CREATE' || "
                        f"(!has(object.metadata.deletionTimestamp) && ({condition}))"
                    ),
                }
            ],
            "variables": [
                {"name": "configName", "expression": _CONFIG},
                *({"name": key, "expression": value} for key, value in variables.items()),
            ],
            "validations": [{**validation, "expression": expression}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "paramRef": {"selector": {}, "parameterNotFoundAction": "Allow"},
        },
    }
    return [policy, binding]


_LABELS = "has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}"
"""The Namespace's labels (an empty map when it has none)."""


def _grants() -> list[dict[str, Any]]:
    granted = grants.cel_granted("params", "request.namespace", "variables.labels")
    grants_text = (
        "(has(params.spec.allowedNamespaces) || has(params.spec.namespaceSelector) ? "
        "'it grants ' + (has(params.spec.allowedNamespaces) ? 'namespaces ' + "
        "params.spec.allowedNamespaces.join(', ') : 'no namespace by name') + "
        "(has(params.spec.namespaceSelector) ? ' and namespaces its spec.namespaceSelector "
        "selects' : '') : 'it grants no namespace: it sets neither spec.allowedNamespaces nor "
        "spec.namespaceSelector')"
    )
    return _config_policy(
        GRANT_POLICY,
        chosen=("config-chosen", "object.spec.configRef != oldObject.spec.configRef"),
        variables={"labels": _LABELS},
        validation={
            "expression": granted,
            "messageExpression": (
                "'spec.configRef.name: NeonConfig \"' + params.metadata.name + "
                "'\" is not granted to namespace \"' + request.namespace + '\" (' + "
                f"{grants_text} + "
                "'): a cluster admin adds the namespace to spec.allowedNamespaces of "
                "the NeonConfig (or labels the namespace to match its "
                "spec.namespaceSelector), or name a NeonConfig granted to this "
                "namespace'"
            ),
            "reason": "Forbidden",
        },
    )


def _local_references() -> list[dict[str, Any]]:
    resources = sorted({plural for plurals in LOCAL_REFERENCES.values() for plural in plurals})
    validations = []
    for field, plurals in LOCAL_REFERENCES.items():
        kinds = ", ".join(f"'{plural}'" for plural in plurals)
        ref = f"object.spec.{field}"
        validations.append(
            {
                "expression": (
                    f"!(request.resource.resource in [{kinds}]) || !has({ref}) || "
                    f"!has({ref}.namespace) || {ref}.namespace == object.metadata.namespace"
                ),
                "messageExpression": (
                    f"'spec.{field}.namespace: ' + {ref}.namespace + ' is not this object\\'s "
                    "namespace ' + object.metadata.namespace + ': references never cross "
                    "namespaces; leave namespace out and create the object next to what it "
                    "references'"
                ),
                "reason": "Invalid",
            }
        )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": LOCAL_REFERENCES_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["neon.operator.dev"],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": resources,
                    }
                ]
            },
            "validations": validations,
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": LOCAL_REFERENCES_POLICY},
        "spec": {"policyName": LOCAL_REFERENCES_POLICY, "validationActions": ["Deny"]},
    }
    return [policy, binding]


def render() -> str:
    """The manifests as one YAML stream (``deploy/admission/tier-policy.yaml``)."""
    header = "# Generated by neon_operator.admission; do not edit.\n"
    return header + yaml.safe_dump_all(manifests(), sort_keys=False)


CHART_TEMPLATE = "helm/neon-operator/templates/tier-policy.yaml"
"""Where the Helm chart carries the same policy, behind ``admissionPolicy.enabled``."""


def render_chart_template() -> str:
    """The policy as a Helm template: the same objects, switched by a value."""
    body = yaml.safe_dump_all(manifests(), sort_keys=False)
    return (
        "{{- /* Generated by neon_operator.admission (`neon-operator crds`); do not edit. */}}\n"
        "{{- if .Values.admissionPolicy.enabled }}\n"
        f"{body}"
        "{{- end }}\n"
    )


def install(kubeconfig: str) -> None:
    """Create or replace every policy and binding."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        admission = client.AdmissionregistrationV1Api(api)
        calls = {
            "ValidatingAdmissionPolicy": (
                admission.create_validating_admission_policy,
                admission.read_validating_admission_policy,
                admission.replace_validating_admission_policy,
            ),
            "ValidatingAdmissionPolicyBinding": (
                admission.create_validating_admission_policy_binding,
                admission.read_validating_admission_policy_binding,
                admission.replace_validating_admission_policy_binding,
            ),
        }
        for body in manifests():
            create, read, replace = calls[body["kind"]]
            name = body["metadata"]["name"]
            try:
                create(body)
            except ApiException as error:
                if error.status != 409:
                    raise
                current = read(name)
                body["metadata"]["resourceVersion"] = current.metadata.resource_version
                replace(name, body)
    finally:
        api.close()

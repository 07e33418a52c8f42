"""The ``neon-operator`` command.

``neon-operator crds [--output DIR] [--chart DIR]``
    regenerate the CRD YAML from the models, into ``crds/`` and the Helm chart's ``crds/``,
    the Markdown reference ``docs/crd-reference.md``, the admission policy and the Argo CD
    health checks' ConfigMap (``deploy/argocd/argocd-cm.yaml``).
``neon-operator demo [--keep]``
    start the local stack and walk through what the operator does.
``neon-operator run [--namespace NS]... [--liveness-port N] [--metrics-port N]``
    run the operator against the current kubeconfig (or the in-cluster service account); the
    instance holding the leadership Lease acts, others stand by (``--leader-election-*``).
``neon-operator dev up --state-dir DIR`` / ``neon-operator dev down --state-dir DIR``
    start / stop the local stack: a real kube-apiserver, etcd and kube-controller-manager on
    loopback with this operator's CRDs installed, and the Neon emulator.
``neon-operator dev image``
    build the operator image from the Dockerfile without a Docker daemon (``make image``) and
    print the OCI archive's path.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neon-operator", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(metavar="COMMAND")

    crds_command = commands.add_parser("crds", help="write the CRD YAML generated from the models")
    crds_command.add_argument("--output", type=pathlib.Path, default=pathlib.Path("crds"))
    crds_command.add_argument(
        "--chart",
        type=pathlib.Path,
        default=pathlib.Path("helm/neon-operator"),
        help="also write the chart's crds/ (skipped when the chart directory does not exist)",
    )
    crds_command.add_argument(
        "--reference",
        type=pathlib.Path,
        default=pathlib.Path("docs/crd-reference.md"),
        help="where to write the Markdown CRD reference",
    )
    crds_command.set_defaults(handler=_crds)

    demo = commands.add_parser("demo", help="start the local stack and walk through the product")
    demo.add_argument("--state-dir", type=pathlib.Path, default=None)
    demo.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser("run", help="run the operator against the current kubeconfig")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="serve NeonAppDatabases of this namespace (repeatable; default: all namespaces)",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="serve every namespace (default)"
    )
    run.add_argument("--liveness-port", type=int, default=None, help="serve /healthz on this port")
    run.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port")
    run.add_argument(
        "--resync-interval",
        type=float,
        default=None,
        help="seconds between sweeps comparing every Secret with the watch cache; deleted or "
        "edited Secrets are repaired at once anyway (default 300)",
    )
    run.add_argument(
        "--neon-resync-interval",
        type=float,
        default=None,
        help="seconds between Neon drift checks of one resource, spread evenly (default 3600)",
    )
    run.add_argument(
        "--neon-resync-share",
        type=float,
        default=None,
        help="fraction of each key's Neon request budget that drift checks may use (default 0.25)",
    )
    run.add_argument(
        "--consumption-interval",
        type=float,
        default=None,
        help="seconds between fetches of every project's consumption history, 100 projects per "
        "Neon call (default 3600)",
    )
    run.add_argument(
        "--consumption-share",
        type=float,
        default=None,
        help="fraction of each key's Neon request budget those fetches may use (default 0.05)",
    )
    run.add_argument(
        "--config-refresh-interval",
        type=float,
        default=None,
        help="seconds between checks of each NeonConfig's API key with Neon; a rejected or "
        "replaced key shows within one (default 300)",
    )
    run.add_argument(
        "--neon-budget-share",
        type=_share,
        default=None,
        help="fraction of each NeonConfig's request budget this process spends; shards sharing "
        "an API key take 1/N each (default 1)",
    )
    run.add_argument(
        "--retry-delay",
        type=float,
        default=None,
        help="seconds before retrying a resource blocked by config or Neon (default 30)",
    )
    run.add_argument(
        "--max-workers",
        type=_positive,
        default=None,
        help="objects of one kind reconciled at once; the others wait in the queue (bounds "
        "memory in bursts; default 128)",
    )
    run.add_argument(
        "--leader-election-id",
        default=None,
        help="name of the leadership Lease (default: neon-operator when serving every "
        "namespace, neon-operator-<hash of the --namespace patterns> otherwise)",
    )
    run.add_argument(
        "--leader-election-namespace",
        default=None,
        help="namespace of the Lease (default: the pod's own in a cluster, else default)",
    )
    run.add_argument(
        "--leader-election-lease-duration",
        type=float,
        default=None,
        help="seconds a standby waits after the Lease was last renewed (default 15)",
    )
    run.add_argument(
        "--leader-election-renew-deadline",
        type=float,
        default=None,
        help="seconds the leader may fail to renew before it stops writing and exits (default 10)",
    )
    run.add_argument(
        "--leader-election-retry-period",
        type=float,
        default=None,
        help="seconds between attempts to acquire or renew the Lease (default 2)",
    )
    run.add_argument("--log-level", default="INFO")
    run.set_defaults(handler=_run)

    dev = commands.add_parser("dev", help="the local stack for demos and tests")
    dev_commands = dev.add_subparsers(metavar="ACTION", required=True)
    dev_up = dev_commands.add_parser(
        "up", help="start control plane, CRDs and emulator; return when ready"
    )
    dev_up.add_argument("--state-dir", type=pathlib.Path, required=True)
    dev_up.add_argument(
        "--no-emulator", action="store_true", help="start only the Kubernetes control plane"
    )
    dev_up.set_defaults(handler=_dev_up)
    dev_down = dev_commands.add_parser("down", help="stop the stack started from --state-dir")
    dev_down.add_argument("--state-dir", type=pathlib.Path, required=True)
    dev_down.set_defaults(handler=_dev_down)
    dev_image = dev_commands.add_parser(
        "image", help="build the operator image from the Dockerfile (buildah, no daemon)"
    )
    dev_image.set_defaults(handler=_dev_image)
    return parser


def _share(text: str) -> float:
    """A fraction in (0, 1] (argparse type)."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a share is in (0, 1], not {text}")
    return value


def _positive(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _crds(args: argparse.Namespace) -> int:
    from neon_operator import admission, argocd, crddocs, crds

    targets = [args.output]
    base = pathlib.Path("deploy/base")  # the kustomize base carries its own copy
    if base.is_dir():
        targets.append(base / "crds")
    if args.chart.is_dir():
        targets.append(args.chart / "crds")
        policy = args.chart / "templates" / "tier-policy.yaml"
        policy.write_text(admission.render_chart_template(), encoding="utf-8")
        print(policy)
    manifest = pathlib.Path("deploy/admission/tier-policy.yaml")
    if manifest.parent.is_dir():
        manifest.write_text(admission.render(), encoding="utf-8")
        print(manifest)
    script = pathlib.Path(argocd.SCRIPT)
    if script.is_file():
        health = pathlib.Path(argocd.CONFIG_MAP)
        health.write_text(argocd.render_config_map(script.read_text(encoding="utf-8")))
        print(health)
    for target in targets:
        for path in crds.write(target):
            print(path)
    args.reference.parent.mkdir(parents=True, exist_ok=True)
    args.reference.write_text(crddocs.render(), encoding="utf-8")
    print(args.reference)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from neon_operator import demo

    return demo.run(args.state_dir, keep=args.keep)


def _run(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from neon_operator import runner, settings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request URL at INFO; the client's own DEBUG lines say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    overrides = {
        "resync_interval": args.resync_interval,
        "neon_resync_interval": args.neon_resync_interval,
        "neon_resync_share": args.neon_resync_share,
        "consumption_interval": args.consumption_interval,
        "consumption_share": args.consumption_share,
        "neon_budget_share": args.neon_budget_share,
        "retry_delay": args.retry_delay,
        "max_workers": args.max_workers,
        "config_refresh_interval": args.config_refresh_interval,
        "leader_election_id": args.leader_election_id,
        "leader_election_namespace": args.leader_election_namespace,
        "lease_duration": args.leader_election_lease_duration,
        "renew_deadline": args.leader_election_renew_deadline,
        "retry_period": args.leader_election_retry_period,
    }
    configured = dataclasses.replace(
        settings.Settings(
            namespaces=tuple(args.namespace),
            liveness_port=args.liveness_port,
            metrics_port=args.metrics_port,
        ),
        **{name: value for name, value in overrides.items() if value is not None},
    )
    return runner.run(configured)


def _dev_up(args: argparse.Namespace) -> int:
    from neon_operator.devstack import binaries, processes, stack

    started = time.monotonic()
    try:
        running = stack.up(args.state_dir, emulator=not args.no_emulator)
    except (processes.StartupError, binaries.BuildError) as error:
        print(f"neon-operator dev up: {error}", file=sys.stderr)
        return 1
    print(json.dumps(running.describe(), indent=2))
    print(
        f"ready in {time.monotonic() - started:.1f}s; "
        f"export KUBECONFIG={running.kubeconfig}; stop with "
        f"`neon-operator dev down --state-dir {args.state_dir}`",
        file=sys.stderr,
    )
    return 0


def _dev_down(args: argparse.Namespace) -> int:
    from neon_operator.devstack import stack

    stopped = stack.down(args.state_dir)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _dev_image(args: argparse.Namespace) -> int:
    from neon_operator.devstack import image

    started = time.monotonic()
    try:
        built = image.ensure_image()
    except image.ImageError as error:
        print(f"neon-operator dev image: {error}", file=sys.stderr)
        return 1
    size = built.archive.stat().st_size / 2**20
    print(
        f"{built.reference}: {built.archive} ({size:.0f} MiB) in {time.monotonic() - started:.0f}s",
        file=sys.stderr,
    )
    print(built.archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the operator's image from the repository's Dockerfile without a Docker daemon.

``make image`` (``neon-operator dev image``) runs the Dockerfile's steps with buildah
(``--isolation chroot``, the ``vfs`` storage driver: no daemon, no overlay mounts) on a base made
here, because no registry is reachable to pull ``python:3.11-slim-bookworm`` from:

1. **base** -- ``mmdebstrap`` makes a Debian bookworm root filesystem with Debian's Python 3.11
   (``python3``, ``python3-venv``, ``ca-certificates``; docs, man pages and locales left out as
   in Debian's slim images), imported into buildah as ``localhost/neon-operator-base``. Same
   Debian release and Python minor version as the Dockerfile's ``FROM``; its Python lives in
   ``/usr`` rather than ``/usr/local``, which the Dockerfile's steps do not depend on.
2. **image** -- ``buildah bud`` of the Dockerfile with ``--build-arg BASE_IMAGE=`` that base,
   layers cached between builds (dependencies are a layer of their own), wheels from PyPI
   through the build host's pip configuration and CA bundle (mounted, never copied in).
3. **archive** -- ``buildah push`` to an OCI archive, and ``umoci unpack`` of it into a runtime
   bundle (``rootfs/`` + ``config.json``) that :mod:`neon_operator.devstack.pods` runs.

Everything lives under ``$NEON_OPERATOR_CACHE`` (``~/.cache/neon-operator``): the base in
``image-base-<release>-python<version>/``, buildah's storage in ``buildah/``, and the result in
``image-<version>/`` keyed by a hash of the build context, so an unchanged tree is never rebuilt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tomllib
from typing import Any

from neon_operator.devstack import binaries, progress

__all__ = [
    "BASE_IMAGE",
    "DEBIAN_RELEASE",
    "IMAGE_REPOSITORY",
    "PYTHON_VERSION",
    "Image",
    "ImageError",
    "ensure_image",
    "source_root",
]

DEBIAN_RELEASE = "bookworm"
PYTHON_VERSION = "3.11"
BASE_IMAGE = f"localhost/neon-operator-base:{DEBIAN_RELEASE}-python{PYTHON_VERSION}"
IMAGE_REPOSITORY = "ghcr.io/neon-operator/neon-operator"
"""The chart's default ``image.repository``: the built image carries that name, so a container
spec rendered from the chart names this image exactly."""

_MIRRORS = (
    f"deb http://deb.debian.org/debian {DEBIAN_RELEASE} main",
    f"deb http://deb.debian.org/debian {DEBIAN_RELEASE}-updates main",
    f"deb http://deb.debian.org/debian-security {DEBIAN_RELEASE}-security main",
)
_BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
_SLIM = (  # what Debian's slim images leave out
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
)
_CONTEXT = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "operator", "emulator")
_TOOLS = {"buildah": "buildah", "umoci": "umoci", "mmdebstrap": "mmdebstrap"}


class ImageError(RuntimeError):
    """The image could not be built; the message names the step and shows its log tail."""


@dataclasses.dataclass(frozen=True)
class Image:
    """A built image: its OCI archive and the unpacked runtime bundle."""

    reference: str
    archive: pathlib.Path
    bundle: pathlib.Path
    digest: str

    @property
    def rootfs(self) -> pathlib.Path:
        return self.bundle / "rootfs"

    def config(self) -> dict[str, Any]:
        """The image's OCI config (``Entrypoint``, ``Cmd``, ``Env``, ``User``, ...)."""
        layout = self.bundle.parent / "layout"
        index = json.loads((layout / "index.json").read_text())
        manifest = _blob(layout, index["manifests"][0]["digest"])
        config: dict[str, Any] = _blob(layout, manifest["config"]["digest"])["config"]
        return config


def source_root() -> pathlib.Path:
    """The repository this package runs from (the Dockerfile's build context)."""
    root = pathlib.Path(__file__).resolve().parents[3]
    if not (root / "Dockerfile").exists():
        raise ImageError(f"no Dockerfile in {root}: build the image from a source checkout")
    return root


def version(root: pathlib.Path) -> str:
    """The project's version from ``pyproject.toml``: the image tag, as the chart's appVersion."""
    with (root / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def ensure_image(*, report: progress.Reporter | None = None) -> Image:
    """Return the operator image built from this checkout, building what the cache lacks."""
    root = source_root()
    tag = version(root)
    cache = binaries.cache_root()
    out = cache / f"image-{tag}"
    context_hash = _context_digest(root)
    image = Image(
        reference=f"{IMAGE_REPOSITORY}:{tag}",
        archive=out / f"neon-operator-{tag}.oci.tar",
        bundle=out / "bundle",
        digest=context_hash,
    )
    stamp = out / "context.sha256"
    with binaries.locked(cache / "image.lock", report=report):
        if stamp.exists() and stamp.read_text().strip() == context_hash and image.rootfs.is_dir():
            return image
        _require_tools()
        out.mkdir(parents=True, exist_ok=True)
        log = out / "build.log"
        log.write_text("")
        buildah = _Buildah(cache / "buildah", log)
        _ensure_base(buildah, cache, log, report)
        with progress.step(
            f"building the operator image {image.reference} from the Dockerfile (buildah)",
            f"built {image.reference}",
            report=report,
            detail=lambda: _last_step(log),
        ):
            buildah.run(
                "bud",
                "--isolation=chroot",
                "--layers",
                "--pull=never",
                f"--build-arg=BASE_IMAGE={BASE_IMAGE}",
                *_host_pip_mounts(),
                f"--tag={image.reference}",
                f"--file={root / 'Dockerfile'}",
                str(root),
                what="buildah bud",
                capture=False,
            )
        with progress.step(
            "pruning layers no image uses (buildah rmi --prune)", "pruned", report=report
        ):
            buildah.run("rmi", "--prune", what="buildah rmi --prune")  # dangling images only
        with progress.step(
            f"writing {image.archive.name} and unpacking it",
            f"wrote {image.archive}",
            report=report,
        ):
            stamp.unlink(missing_ok=True)
            image.archive.unlink(missing_ok=True)
            buildah.run("push", image.reference, f"oci-archive:{image.archive}", what="push")
            layout = out / "layout"
            shutil.rmtree(layout, ignore_errors=True)
            buildah.run("push", image.reference, f"oci:{layout}:{tag}", what="push")
            shutil.rmtree(image.bundle, ignore_errors=True)
            _run(
                ["umoci", "unpack", "--image", f"{layout}:{tag}", str(image.bundle)],
                log,
                "umoci unpack",
            )
        stamp.write_text(context_hash + "\n")
    return image


class _Buildah:
    """buildah with our own storage (vfs) under the cache, so nothing system-wide changes."""

    def __init__(self, storage: pathlib.Path, log: pathlib.Path) -> None:
        self.argv = [
            "buildah",
            f"--root={storage / 'root'}",
            f"--runroot={storage / 'run'}",
            "--storage-driver=vfs",
        ]
        self.log = log

    def run(self, *args: str, what: str, capture: bool = True) -> str:
        return _run([*self.argv, *args], self.log, what, capture=capture)

    def has(self, reference: str) -> bool:
        result = subprocess.run(
            [*self.argv, "inspect", "--type=image", reference], capture_output=True, check=False
        )
        return result.returncode == 0


def _ensure_base(
    buildah: _Buildah, cache: pathlib.Path, log: pathlib.Path, report: progress.Reporter | None
) -> None:
    if buildah.has(BASE_IMAGE):
        return
    directory = cache / f"image-base-{DEBIAN_RELEASE}-python{PYTHON_VERSION}"
    tarball = directory / "rootfs.tar"
    if not tarball.exists():
        directory.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial.tar")
        with progress.step(
            f"making the base: Debian {DEBIAN_RELEASE} + Python {PYTHON_VERSION} (mmdebstrap)",
            "made the base root filesystem",
            report=report,
        ):
            _run(
                [
                    "mmdebstrap",
                    "--variant=minbase",
                    f"--include={','.join(_BASE_PACKAGES)}",
                    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
                    "--aptopt=Acquire::Languages none",
                    *_SLIM,
                    DEBIAN_RELEASE,
                    str(partial),
                    *_MIRRORS,
                ],
                log,
                "mmdebstrap",
            )
            partial.rename(tarball)
    with progress.step(f"importing the base as {BASE_IMAGE}", "imported the base", report=report):
        container = buildah.run("from", "scratch", what="buildah from").strip()
        buildah.run("add", container, str(tarball), "/", what="buildah add")
        buildah.run(
            "config",
            "--env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env=LANG=C.UTF-8",
            '--cmd=["python3"]',
            container,
            what="buildah config",
        )
        buildah.run("commit", "--rm", container, BASE_IMAGE, what="buildah commit")


def _host_pip_mounts() -> list[str]:
    """Bind the build host's pip configuration and CA bundle into RUN steps, read-only.

    A host that reaches PyPI through a mirror or an intercepting proxy has it configured there;
    mounted (not copied), none of it lands in a layer, and a plain host mounts nothing.
    """
    mounts = []
    for path in ("/etc/pip.conf", "/etc/ssl/certs/ca-certificates.crt"):
        if pathlib.Path(path).is_file():
            mounts.append(f"--volume={path}:{path}:ro")
    return mounts


def _context_digest(root: pathlib.Path) -> str:
    """A hash of everything the Dockerfile can see (files named in ``_CONTEXT``)."""
    digest = hashlib.sha256(f"{BASE_IMAGE}\n".encode())
    for name in _CONTEXT:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _require_tools() -> None:
    missing = [package for tool, package in _TOOLS.items() if shutil.which(tool) is None]
    if missing:
        raise ImageError(
            f"building the image needs {', '.join(missing)}: "
            f"apt-get install {' '.join(sorted(set(missing)))}"
        )
    if os.geteuid() != 0:
        raise ImageError("building the image with mmdebstrap and buildah's chroot needs root")


def _run(argv: list[str], log: pathlib.Path, what: str, *, capture: bool = True) -> str:
    """Run ``argv`` with its output in ``log`` (stdout also returned when ``capture``)."""
    with log.open("a") as handle:
        handle.write(f"$ {' '.join(argv)}\n")
        handle.flush()
        result = subprocess.run(
            argv,
            stdout=subprocess.PIPE if capture else handle,
            stderr=handle,
            text=True,
            check=False,
        )
        if capture:
            handle.write(result.stdout)
    if result.returncode != 0:
        lines = log.read_text(errors="replace").splitlines()[-30:]
        raise ImageError(
            f"{what} failed (exit {result.returncode}); see {log}:\n" + "\n".join(lines)
        )
    return result.stdout


def _last_step(log: pathlib.Path) -> str:
    """The Dockerfile step buildah is on (``[1/2] STEP 6/10: RUN ...``), shortened."""
    steps = [line for line in log.read_text(errors="replace").splitlines() if " STEP " in line]
    return steps[-1][:90] if steps else ""


def _blob(layout: pathlib.Path, digest: str) -> dict[str, Any]:
    algorithm, value = digest.split(":", 1)
    loaded: dict[str, Any] = json.loads((layout / "blobs" / algorithm / value).read_text())
    return loaded

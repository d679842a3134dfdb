# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The guest of the qemu driver: its kernel and initramfs, built once per slave from Debian
packages, and the boot probe that tells whether KVM works or TCG must do.

The kernel is Debian's own `linux-image-<version>-amd64` (not the -cloud- flavour, which
lacks 9p), fetched with `apt-get download` and unpacked with `dpkg -x`; the initramfs holds
busybox (from busybox-static), the kernel modules that virtio, 9p and virtio-blk need, and
the init script below. Both land in a cache dir, named after the kernel package version and
a digest of what goes into the initramfs, and are reused by every later run.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from ._errors import SandboxError

META_PACKAGE = "linux-image-amd64"
BUSYBOX = "/bin/busybox"
QEMU = "qemu-system-x86_64"
# In load order: each after the modules it depends on.
MODULES = (
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci",
    "fs/netfs/netfs",
    "fs/fscache/fscache",
    "net/9p/9pnet",
    "net/9p/9pnet_virtio",
    "fs/9p/9p",
    "drivers/block/virtio_blk",
)
APPLETS = ("sh", "mount", "umount", "insmod", "mkdir", "cat", "poweroff", "sleep", "echo")
PROBE_MARK = "pyti-guest: probe ok"

# The guest's /init. It loads the modules, mounts the read-only shares that the slave lists
# in /pyti/mounts (tag and guest path per line), and hands over to the guest init in
# Python; with pyti.probe on the kernel command line it only says it booted and powers off.
INIT = r"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for ko in /modules/*.ko; do insmod "$ko" || echo "pyti-guest: insmod $ko failed"; done
case " $(cat /proc/cmdline) " in
*" pyti.probe "*)
  echo "@PROBE_MARK@"
  poweroff -f
  ;;
esac
NINEP=trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000
mount -t 9p -o "$NINEP" pyti /pyti || { echo "pyti-guest: no share"; poweroff -f; }
while read -r tag path; do
  mkdir -p "$path"
  mount -t 9p -o "$NINEP" "$tag" "$path" || echo "pyti-guest: mounting $path failed"
done < /pyti/mounts
read -r python < /pyti/python
exec "$python" -I -S /pyti/guest_init.py
echo "pyti-guest: the guest init did not start"
poweroff -f
""".replace("@PROBE_MARK@", PROBE_MARK)


class Image:
    """A kernel and an initramfs in the cache, and what they were built from."""

    def __init__(self, folder: str, info: dict):
        self.folder = folder
        self.info = info

    @property
    def kernel(self) -> str:
        return os.path.join(self.folder, "vmlinuz")

    @property
    def initrd(self) -> str:
        return os.path.join(self.folder, "initrd.img")

    @property
    def version(self) -> str:
        return self.info["kernel_release"]

    @property
    def name(self) -> str:
        """The image's own version: its kernel package version and its initramfs digest."""
        return os.path.basename(self.folder)


def missing_tools() -> list[str]:
    """What the qemu driver lacks on this slave, each with the Debian package to install."""
    missing = []
    if not shutil.which(QEMU):
        missing.append(f"{QEMU} (Debian package qemu-system-x86)")
    if not os.access(BUSYBOX, os.X_OK):
        missing.append(f"{BUSYBOX} (Debian package busybox-static)")
    for tool, package in (("apt-get", "apt"), ("dpkg", "dpkg")):
        if not shutil.which(tool):
            missing.append(f"{tool} (Debian package {package})")
    return missing


def check_tools() -> None:
    missing = missing_tools()
    if missing:
        raise SandboxError(
            "Creating a qemu VM failed: this slave lacks " + ", ".join(missing),
            failure_kind="sandbox",
            missing=missing,
        )


def _run(argv: list[str], what: str, cwd: str | None = None, timeout: float = 600) -> str:
    try:
        proc = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"Building the qemu guest failed: {what}: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise SandboxError(
            f"Building the qemu guest failed: {what} exited {proc.returncode}: {last[0]}"
        )
    return proc.stdout


def kernel_package() -> tuple[str, str]:
    """The name and version of the kernel package that Debian's linux-image-amd64 points at."""
    out = _run(["apt-cache", "depends", "--important", META_PACKAGE], "apt-cache depends")
    for line in out.splitlines():
        word = line.strip().split()
        if len(word) == 2 and word[0] == "Depends:" and word[1].startswith("linux-image-"):
            name = word[1]
            if name.endswith("-amd64") and "-cloud-" not in name and "-rt-" not in name:
                policy = _run(["apt-cache", "policy", name], "apt-cache policy")
                for pline in policy.splitlines():
                    if pline.strip().startswith("Candidate:"):
                        return name, pline.split(":", 1)[1].strip()
    raise SandboxError(
        f"Building the qemu guest failed: {META_PACKAGE} names no linux-image-*-amd64 kernel; "
        "run apt-get update"
    )


def _digest() -> str:
    with open(BUSYBOX, "rb") as handle:
        busybox = hashlib.sha256(handle.read()).hexdigest()
    text = "\n".join([INIT, busybox, *MODULES, *APPLETS])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ensure(cache_dir: str) -> Image:
    """The cached guest image, built first if this slave has none for the current inputs."""
    check_tools()
    try:
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        digest = _digest()
        with open(os.path.join(cache_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for folder in sorted(glob.glob(os.path.join(cache_dir, f"*-{digest}")), reverse=True):
                info = _load(os.path.join(folder, "image.json"))
                if info and os.path.isfile(os.path.join(folder, "initrd.img")):
                    return Image(folder, info)
            return _build(cache_dir, digest)
    except OSError as exc:
        raise SandboxError(
            f"Building the qemu guest in {cache_dir} failed: {exc}", failure_kind="sandbox"
        ) from exc


def _load(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _build(cache_dir: str, digest: str) -> Image:
    started = time.monotonic()
    package, version = kernel_package()
    work = tempfile.mkdtemp(prefix="build-", dir=cache_dir)
    try:
        download = os.path.join(work, "deb")
        os.makedirs(download)
        # apt drops to its _apt user for downloads; let it write here.
        if _has_user("_apt"):
            shutil.chown(download, "_apt")
        _run(["apt-get", "download", "-q", f"{package}={version}"], "apt-get download", download)
        debs = glob.glob(os.path.join(download, "*.deb"))
        if len(debs) != 1:
            raise SandboxError(f"Building the qemu guest failed: apt-get download gave {debs}")
        tree = os.path.join(work, "tree")
        _run(["dpkg", "-x", debs[0], tree], "dpkg -x")
        release = _kernel_release(tree)
        root = os.path.join(work, "root")
        _initramfs_tree(root, tree, release)
        folder = os.path.join(cache_dir, f"{version}-{digest}")
        os.makedirs(folder + ".part")
        shutil.copy(os.path.join(tree, "boot", f"vmlinuz-{release}"), folder + ".part/vmlinuz")
        _cpio(root, os.path.join(folder + ".part", "initrd.img"))
        info = {
            "kernel_package": package,
            "kernel_version": version,
            "kernel_release": release,
            "busybox": _busybox_version(),
            "digest": digest,
            "build_s": round(time.monotonic() - started, 1),
        }
        with open(os.path.join(folder + ".part", "image.json"), "w", encoding="utf-8") as out:
            json.dump(info, out)
        for name in os.listdir(folder + ".part"):
            os.chmod(os.path.join(folder + ".part", name), 0o444)
        os.chmod(folder + ".part", 0o755)
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(folder + ".part", folder)
        return Image(folder, info)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _kernel_release(tree: str) -> str:
    found = sorted(os.listdir(os.path.join(tree, "lib", "modules")))
    if len(found) != 1:
        raise SandboxError(f"Building the qemu guest failed: kernel modules for {found}")
    return found[0]


def _initramfs_tree(root: str, tree: str, release: str) -> None:
    for sub in ("bin", "modules", "proc", "sys", "dev", "usr", "pyti", "vm", "tmp", "etc"):
        os.makedirs(os.path.join(root, sub), mode=0o755)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    for name in ("lib", "lib64", "sbin"):
        os.symlink(f"usr/{name}", os.path.join(root, name))
    shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", applet))
    kernel = os.path.join(tree, "lib", "modules", release, "kernel")
    for number, module in enumerate(MODULES):
        source = os.path.join(kernel, module + ".ko")
        if not os.path.isfile(source):
            raise SandboxError(
                f"Building the qemu guest failed: kernel {release} has no module {module}.ko"
            )
        target = f"{number:02d}-{os.path.basename(module)}.ko"
        shutil.copy(source, os.path.join(root, "modules", target))
    with open(os.path.join(root, "init"), "w", encoding="utf-8") as handle:
        handle.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)


def _cpio(root: str, target: str) -> None:
    names = _run(["find", ".", "-mindepth", "1"], "find", root).splitlines()
    with open(target, "wb") as out:
        proc = subprocess.run(
            [BUSYBOX, "cpio", "-o", "-H", "newc"],
            cwd=root,
            input="\n".join(sorted(names)).encode() + b"\n",
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if proc.returncode != 0:
        raise SandboxError(
            f"Building the qemu guest failed: busybox cpio exited {proc.returncode}: "
            + proc.stderr.decode("utf-8", "replace").strip()[-300:]
        )


def _busybox_version() -> str:
    proc = subprocess.run([BUSYBOX], capture_output=True, text=True, check=False)
    first = (proc.stdout or proc.stderr).splitlines()[:1]
    return first[0].strip() if first else "unknown"


def qemu_version() -> str:
    out = _run([QEMU, "--version"], f"{QEMU} --version", timeout=30)
    return out.splitlines()[0].strip() if out else "unknown"

# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile

import pytest
from ansible_collections.pyti.core.plugins.module_utils._errors import SyncError
from ansible_collections.pyti.core.plugins.module_utils._sync import apply, diff

WHEEL = "wheels/six-1.16.0-py2.py3-none-any.whl"


def sha(data: bytes, length: int = 64) -> str:
    return hashlib.sha256(data).hexdigest()[:length]


def tree(root, files: dict):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def listing(root):
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(root))] = (
                path.read_bytes(),
                stat.S_IMODE(path.stat().st_mode),
            )
    return found


def make_tar(path, members):
    """A tar of MEMBERS: (name, bytes) for files, (name, '->', target) for symlinks."""
    with tarfile.open(path, "w:gz") as tf:
        for name, *rest in members:
            info = tarfile.TarInfo(name)
            if rest[0] == "->":
                info.type, info.linkname = tarfile.SYMTYPE, rest[1]
                tf.addfile(info)
            else:
                info.size = len(rest[0])
                tf.addfile(info, io.BytesIO(rest[0]))
    return str(path)


def sync_error(func, *args):
    with pytest.raises(SyncError) as raised:
        func(*args)
    return raised.value


def test_diff_finds_missing_changed_and_extra_files(tmp_path):
    dest = tree(
        tmp_path / "setup",
        {
            "same.txt": b"same",
            "changed.txt": b"old",
            "extra.txt": b"x",
            "sub/extra": b"y",
            WHEEL: b"not the wheel's content",
        },
    )
    (dest / "link.txt").symlink_to(dest / "same.txt")
    manifest = {
        "same.txt": sha(b"same"),
        "changed.txt": sha(b"new"),
        "missing.txt": sha(b"m"),
        "sub/missing": sha(b"m", 16),
        "link.txt": sha(b"same"),
        WHEEL: sha(b"the wheel"),
    }
    missing, extra = diff(str(dest), manifest)
    assert missing == ["changed.txt", "link.txt", "missing.txt", "sub/missing"]
    assert extra == ["extra.txt", "sub/extra"]


def test_diff_accepts_digest_prefixes(tmp_path):
    dest = tree(tmp_path / "setup", {"a": b"a", "b": b"b"})
    assert diff(str(dest), {"a": sha(b"a", 12), "b": sha(b"b", 64)}) == ([], [])


def test_diff_of_a_missing_dest_lists_everything(tmp_path):
    assert diff(str(tmp_path / "nope"), {"b": sha(b"b"), "a": sha(b"a")}) == (["a", "b"], [])


@pytest.mark.parametrize("rel", ["../outside", "/etc/passwd", "a/../../b", "a//b", "./a", "a/"])
def test_diff_refuses_unsafe_manifest_paths(tmp_path, rel):
    error = sync_error(diff, str(tmp_path), {rel: sha(b"x")})
    assert error.msg == f"Syncing the setup failed: unsafe path {rel!r} in the manifest"
    assert error.context == {"path": rel, "failure_kind": "sync"}


def test_apply_lands_files_read_only_and_removes_extras(tmp_path):
    dest = tree(tmp_path / "setup", {"keep.txt": b"keep", "old.txt": b"o", "gone/deep/x": b"x"})
    files = {"a.txt": b"alpha", "sub/b.txt": b"beta", WHEEL: b"wheel"}
    manifest = {rel: sha(data) for rel, data in files.items()} | {"keep.txt": sha(b"keep")}
    missing, extra = diff(str(dest), manifest)
    archive = make_tar(tmp_path / "setup.tar.gz", [(rel, files[rel]) for rel in missing])
    apply(str(dest), manifest, archive, extra)
    assert listing(dest) == {
        "a.txt": (b"alpha", 0o444),
        "keep.txt": (b"keep", 0o644),
        "sub/b.txt": (b"beta", 0o444),
        WHEEL: (b"wheel", 0o444),
    }
    assert sorted(os.listdir(tmp_path)) == ["setup", "setup.tar.gz"]
    assert diff(str(dest), manifest) == ([], [])


def test_apply_without_archive_only_removes(tmp_path):
    dest = tree(tmp_path / "setup", {"a": b"a", "x/y/old": b"o"})
    apply(str(dest), {"a": sha(b"a")}, None, ["x/y/old"])
    assert listing(dest) == {"a": (b"a", 0o644)}
    assert sorted(os.listdir(dest)) == ["a"]


def test_apply_replaces_a_changed_file(tmp_path):
    dest = tree(tmp_path / "setup", {"a": b"old"})
    archive = make_tar(tmp_path / "s.tar.gz", [("a", b"new")])
    apply(str(dest), {"a": sha(b"new")}, archive, [])
    assert listing(dest) == {"a": (b"new", 0o444)}


def test_apply_refuses_a_member_not_in_the_manifest(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("evil.sh", b"rm -rf")])
    error = sync_error(apply, str(dest), {}, archive, [])
    assert error.msg == "Syncing the setup failed: 'evil.sh' is not in the manifest"
    assert error.context == {"path": "evil.sh", "failure_kind": "sync"}
    assert listing(dest) == {}
    assert sorted(os.listdir(tmp_path)) == ["s.tar.gz", "setup"]


def test_apply_refuses_a_member_with_other_content(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("a.txt", b"tampered")])
    error = sync_error(apply, str(dest), {"a.txt": sha(b"original")}, archive, [])
    assert error.msg == "Syncing the setup failed: 'a.txt' arrived with other content"
    assert listing(dest) == {}


def test_apply_refuses_an_extra_path_with_dot_dot(tmp_path):
    canary = tree(tmp_path, {"canary": b"keep me"}) / "canary"
    dest = tree(tmp_path / "setup", {})
    error = sync_error(apply, str(dest), {}, None, ["../canary"])
    assert error.msg == "Syncing the setup failed: unsafe path '../canary' in the manifest"
    assert canary.read_bytes() == b"keep me"


def test_apply_refuses_a_symlink_to_an_absolute_path(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("link", "->", "/etc/passwd")])
    error = sync_error(apply, str(dest), {"link": sha(b"")}, archive, [])
    assert error.msg == (
        "Syncing the setup failed: the archive does not unpack: "
        "'link' is a link to an absolute path"
    )
    assert listing(dest) == {}


def test_apply_refuses_a_member_outside_the_destination(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("../escaped", b"x")])
    error = sync_error(apply, str(dest), {"escaped": sha(b"x")}, archive, [])
    assert error.msg == (
        "Syncing the setup failed: the archive does not unpack: '../escaped' would be "
        f"extracted to '{tmp_path / 'escaped'}', which is outside the destination"
    )
    assert not (tmp_path / "escaped").exists()


def test_apply_strips_the_slash_of_an_absolute_member_and_refuses_it(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("/pyti-absolute-member", b"x")])
    error = sync_error(apply, str(dest), {}, archive, [])
    assert error.msg == "Syncing the setup failed: 'pyti-absolute-member' is not in the manifest"


def test_apply_refuses_a_relative_symlink_not_in_the_manifest(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("a", b"a"), ("link", "->", "a")])
    error = sync_error(apply, str(dest), {"a": sha(b"a")}, archive, [])
    assert error.msg == "Syncing the setup failed: 'link' is not in the manifest"


def test_apply_refuses_a_symlink_named_in_the_manifest(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("b", b"b"), ("a-link", "->", "b")])
    manifest = {"b": sha(b"b"), "a-link": sha(b"b")}
    with pytest.raises(SyncError):
        apply(str(dest), manifest, archive, [])
    assert not os.path.lexists(dest / "a-link")


def test_apply_refuses_a_symlink_after_its_target_with_sync_error(tmp_path):
    dest = tree(tmp_path / "setup", {})
    archive = make_tar(tmp_path / "s.tar.gz", [("a", b"a"), ("link", "->", "a")])
    with pytest.raises(SyncError):
        apply(str(dest), {"a": sha(b"a"), "link": sha(b"a")}, archive, [])


def test_apply_refuses_an_archive_that_does_not_unpack(tmp_path):
    dest = tree(tmp_path / "setup", {})
    (tmp_path / "s.tar.gz").write_bytes(b"\x1f\x8b garbage")
    error = sync_error(apply, str(dest), {}, str(tmp_path / "s.tar.gz"), [])
    assert error.msg.startswith("Syncing the setup failed: the archive does not unpack: ")
    assert error.context == {"failure_kind": "sync"}

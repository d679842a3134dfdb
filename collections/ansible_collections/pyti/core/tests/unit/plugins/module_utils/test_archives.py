# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _archives
from ansible_collections.pyti.core.plugins.module_utils._archives import identify, safe_wheels
from ansible_collections.pyti.core.plugins.module_utils._errors import PrepareError

# _archives.test_extra is called through its module: imported bare, pytest would collect it.

GOOD_WHEEL = "six-1.16.0-py2.py3-none-any.whl"


def metadata(name="Six", version="1.16.0", extras=()):
    lines = ["Metadata-Version: 2.1"]
    lines += [f"Name: {name}"] if name else []
    lines += [f"Version: {version}"] if version else []
    lines += [f"Provides-Extra: {extra}" for extra in extras]
    return ("\n".join(lines) + "\n\nA long description.\n").encode()


def zip_bytes(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(files: dict, mode="w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wheel(tmp_path, name=GOOD_WHEEL, **meta):
    files = {"six.py": b"", "six-1.16.0.dist-info/METADATA": metadata(**meta)}
    path = tmp_path / name
    path.write_bytes(zip_bytes(files))
    return str(path)


def prepare_error(func, *args):
    with pytest.raises(PrepareError) as raised:
        func(*args)
    return raised.value


def test_identify_a_wheel(tmp_path):
    assert identify(wheel(tmp_path)) == ("six", "1.16.0", "wheel")


@pytest.mark.parametrize(
    ("filename", "mode"),
    [("Foo_Bar-2.0.tar.gz", "w:gz"), ("Foo_Bar-2.0.tgz", "w:gz"), ("Foo_Bar-2.0.tar.bz2", "w:bz2")],
)
def test_identify_a_tar_sdist(tmp_path, filename, mode):
    files = {"Foo_Bar-2.0/setup.py": b"", "Foo_Bar-2.0/PKG-INFO": metadata("Foo_Bar", "2.0")}
    (tmp_path / filename).write_bytes(tar_bytes(files, mode))
    assert identify(str(tmp_path / filename)) == ("foo-bar", "2.0", "sdist")


def test_identify_a_zip_sdist(tmp_path):
    files = {"foo-2.0/PKG-INFO": metadata("Foo", "2.0")}
    (tmp_path / "foo-2.0.zip").write_bytes(zip_bytes(files))
    assert identify(str(tmp_path / "foo-2.0.zip")) == ("foo", "2.0", "sdist")


@pytest.mark.parametrize(
    ("filename", "content", "why"),
    [
        pytest.param(
            "six-1.0.rpm",
            b"",
            "the name ends in neither .whl nor an sdist suffix",
            id="wrong-suffix",
        ),
        pytest.param(
            "six-1.0-py3-none-any.whl", b"garbage", "not a readable zip archive", id="garbage-wheel"
        ),
        pytest.param("six-1.0.tar.gz", b"garbage", "not a readable tar archive", id="garbage-tar"),
        pytest.param("six-1.0.zip", b"garbage", "not a readable zip archive", id="garbage-zip"),
        pytest.param(
            "six-1.0.tar.gz",
            tar_bytes({"six-1.0/setup.py": b""}),
            "an sdist needs a PKG-INFO file in its top folder",
            id="tar-without-pkg-info",
        ),
        pytest.param(
            "six-1.0.tar.gz",
            tar_bytes({"six-1.0/sub/PKG-INFO": metadata()}),
            "an sdist needs a PKG-INFO file in its top folder",
            id="pkg-info-too-deep",
        ),
        pytest.param(
            "six-1.0.tar.gz",
            tar_bytes({"six-1.0/PKG-INFO": "/etc/passwd"}),
            "an sdist needs a PKG-INFO file in its top folder",
            id="pkg-info-symlink",
        ),
        pytest.param(
            "six-1.0.zip",
            zip_bytes({"PKG-INFO": metadata()}),
            "an sdist needs a PKG-INFO file in its top folder",
            id="zip-without-top",
        ),
        pytest.param(
            "six-1.0-py3-none-any.whl",
            zip_bytes({"six.py": b""}),
            "a wheel needs exactly one .dist-info/METADATA",
            id="wheel-without-metadata",
        ),
        pytest.param(
            "six-1.0-py3-none-any.whl",
            zip_bytes({"a-1.dist-info/METADATA": metadata(), "b-1.dist-info/METADATA": metadata()}),
            "a wheel needs exactly one .dist-info/METADATA",
            id="wheel-two-metadata",
        ),
        pytest.param(
            "six-1.0.tar.gz",
            tar_bytes({"six-1.0/PKG-INFO": metadata(version=None)}),
            "its metadata has no Name or Version",
            id="no-version",
        ),
        pytest.param(
            "six-1.0-py3-none-any.whl",
            zip_bytes({"six-1.0.dist-info/METADATA": metadata(name=None)}),
            "its metadata has no Name or Version",
            id="no-name",
        ),
    ],
)
def test_identify_refuses(tmp_path, filename, content, why):
    path = tmp_path / filename
    path.write_bytes(content)
    error = prepare_error(identify, str(path))
    assert error.msg == f"not a distribution: {filename}: {why}"
    assert error.context == {"path": str(path)}


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        pytest.param(["docs", "Testing"], "testing", id="testing"),
        pytest.param(["tests", "test"], "test", id="test-first"),
        pytest.param(["Tests", "testing"], "tests", id="tests-before-testing"),
        pytest.param(["docs", "dev"], None, id="none"),
        pytest.param([], None, id="no-extras"),
    ],
)
def test_test_extra(tmp_path, extras, expected):
    assert _archives.test_extra(wheel(tmp_path, extras=extras)) == expected


def test_safe_wheels_lists_regular_wheels(tmp_path):
    for name in (GOOD_WHEEL, "attrs-23.1.0-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    assert safe_wheels(str(tmp_path)) == [
        str(tmp_path / "attrs-23.1.0-py3-none-any.whl"),
        str(tmp_path / GOOD_WHEEL),
    ]


def test_safe_wheels_refuses_a_symlink(tmp_path):
    canary = tmp_path / "canary"
    canary.write_bytes(b"")
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / GOOD_WHEEL).symlink_to(canary)
    error = prepare_error(safe_wheels, str(folder))
    assert error.msg == f"unexpected entry {GOOD_WHEEL!r} among the prepared wheels"
    assert error.context == {"path": str(folder)}


@pytest.mark.parametrize(
    "name", ["setup.py", "six-1.16.0.tar.gz", "x.whl.txt", "six 1.0.whl", "six\n.whl"]
)
def test_safe_wheels_refuses_other_names(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    error = prepare_error(safe_wheels, str(tmp_path))
    assert error.msg == f"unexpected entry {name!r} among the prepared wheels"


def test_safe_wheels_refuses_a_directory(tmp_path):
    (tmp_path / GOOD_WHEEL).mkdir()
    error = prepare_error(safe_wheels, str(tmp_path))
    assert error.msg == f"unexpected entry {GOOD_WHEEL!r} among the prepared wheels"


def test_safe_wheels_refuses_a_hard_link(tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(b"")
    folder = tmp_path / "wheels"
    folder.mkdir()
    os.link(outside, folder / GOOD_WHEEL)
    error = prepare_error(safe_wheels, str(folder))
    assert error.msg == f"the prepared wheel {GOOD_WHEEL!r} is a hard link"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("x.whl", "Invalid wheel filename (wrong number of parts): 'x'"),
        (
            "six-1.0-py3-none-any.whl\n",
            "Invalid wheel filename (extension must be '.whl'): 'six-1.0-py3-none-any.whl\\n'",
        ),
    ],
)
def test_safe_wheels_refuses_bad_wheel_names(tmp_path, name, why):
    (tmp_path / name).write_bytes(b"")
    error = prepare_error(safe_wheels, str(tmp_path))
    assert error.msg == f"bad wheel file name {name!r}: {why}"

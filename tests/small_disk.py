"""A small tmpfs the tests can fill up and turn read-only: the real file-system errors, not mocks.

Mounting needs root (or CAP_SYS_ADMIN). Where that is impossible the tests
that need it skip and say why. Linux refuses to remount a file system
read-only while a process holds a file on it open for writing ("mount point
is busy"), so a read-only case stops the server first, as a machine that
comes back with its disk read-only would.
"""

import contextlib
import os
import subprocess
import uuid

import pytest


def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


def mountable(folder):
    """Mount a small tmpfs on ``folder``; the reason it cannot be done, or None when it is mounted."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root (these tests fill a disk and remount it read-only)"
    os.makedirs(folder, exist_ok=True)
    result = _mount("-t", "tmpfs", "-o", "size=8m,mode=0700", "hailong-test", str(folder))
    if result.returncode != 0:
        return f"cannot mount a tmpfs here: {result.stderr.strip()}"
    return None


class SmallDisk:
    """A mounted tmpfs: ``fill()`` it to the last block, ``free()`` it, ``read_only()``/``writable()`` it."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.filler = os.path.join(self.folder, f"filler-{uuid.uuid4().hex}")

    def fill(self):
        """Write a filler file until the file system says ENOSPC: the disk is full now."""
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        block = b"\0" * 65536
        try:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(descriptor, block[:size])
                except OSError as exc:
                    if exc.errno != 28:
                        raise
        finally:
            os.close(descriptor)

    def free(self):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.filler)

    def read_only(self):
        result = _mount("-o", "remount,ro", self.folder)
        assert result.returncode == 0, result.stderr

    def writable(self):
        result = _mount("-o", "remount,rw", self.folder)
        assert result.returncode == 0, result.stderr

    def unmount(self):
        _mount("-o", "remount,rw", self.folder)
        # Lazy: a process the test started and is still closing must not keep the mount behind.
        subprocess.run(["umount", "--lazy", self.folder], capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def small_disk(folder):
    """A ``SmallDisk`` on ``folder`` for the block's length, or the test skips with the reason."""
    reason = mountable(folder)
    if reason:
        pytest.skip(reason)
    disk = SmallDisk(folder)
    try:
        yield disk
    finally:
        disk.unmount()

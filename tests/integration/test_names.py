"""Odd names (spaces, control characters, quotes, backslashes, bytes that
are not UTF-8) and paths longer than PATH_MAX."""

import json
import os
import unittest

from iwtest import WatchTestCase, join, real_events, show_event, to_bytes

ODD_NAMES = [
    b"with space",
    b" leading and trailing ",
    b"new\nline",
    b"tab\there",
    b"carriage\rreturn",
    b'double"quote',
    b"single'quote",
    b"back\\slash",
    b"\\u0041 not an escape",
    b"ctl\x01\x02\x1b\x1f\x7f",
    b"bad\xff\xfe",
    b"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",  # valid UTF-8, 2/3/4 bytes
    b"lone\x80continuation",
    b"truncated\xe2\x82",
    b"overlong\xc0\xaf",
    b"surrogate\xed\xb3\xbf",  # UTF-8 form of U+DCFF: not valid UTF-8
    b"beyond\xf4\x90\x80\x80",  # > U+10FFFF
    b"latin1 \xe9t\xe9",
    b"-starts-with-dash",
    b"*?[glob]",
    b"%s%n",
]

PATH_MAX = 4096


class OddNames(WatchTestCase):

    def check_raw_lines(self, w):
        """Every output line is ASCII-safe JSON: control characters escaped
        (json.loads in strict mode already refuses raw ones)."""
        for raw in w.raw:
            line = raw.rstrip(b"\n")
            self.assertFalse(any(b < 0x20 for b in line), "raw control byte in %r" % line)
            json.loads(line.decode("utf-8"))

    def test_odd_file_names(self):
        root = self.mkroot()
        w, initial = self.start(root, latency=0)
        rootb = os.fsencode(root)
        n0 = w.count()
        for name in ODD_NAMES:
            with open(os.path.join(rootb, name), "wb") as f:
                f.write(b"x")
        n1 = w.sync()
        created = [to_bytes(e["path"]) for e in real_events(w.snapshot_events(n0, n1))
                   if e["event"] == "create"]
        self.assertEqual(sorted(created), sorted(join(root, n) for n in ODD_NAMES),
                         "create events, decoded with os.fsencode, give back the raw names")
        self.check_raw_lines(w)
        self.assertConverges(w, initial)
        w.stop()

    def test_odd_directory_names(self):
        root = self.mkroot()
        rootb = os.fsencode(root)
        pre = os.path.join(rootb, b"pre\xff existing\n")
        os.mkdir(pre)
        w, initial = self.start(root)
        n0 = w.count()
        for name in ODD_NAMES[:12]:
            d = os.path.join(pre, name)
            os.mkdir(d)
            with open(os.path.join(d, b"in \xfe"), "wb") as f:
                f.write(b"x")
        os.rename(os.path.join(pre, ODD_NAMES[2]), os.path.join(rootb, b"moved\tdir\xff"))
        n1 = w.sync()
        self.check_raw_lines(w)
        evs = real_events(w.snapshot_events(n0, n1))
        renames = [(to_bytes(e["from"]), to_bytes(e["path"])) for e in evs if e["event"] == "rename"]
        self.assertIn((to_bytes(pre) + b"/" + ODD_NAMES[2], join(root, b"moved\tdir\xff")), renames,
                      [show_event(e) for e in evs])
        self.assertConverges(w, initial)
        # modify inside a renamed odd directory names the new path
        n2 = w.count()
        with open(os.path.join(rootb, b"moved\tdir\xff", b"in \xfe"), "ab") as f:
            f.write(b"y")
        n3 = w.sync()
        self.assertEvents(w, n2, n3, [("modify", join(root, b"moved\tdir\xff/in \xfe"), None)])
        w.stop()

    def make_deep(self, base_fd, levels, name_len=200):
        """Creates `levels` nested directories of name_len-byte names under
        base_fd (using dir fds: the full path is too long for path syscalls).
        Returns (list of relative names, fd of the deepest directory)."""
        names = []
        fd = os.dup(base_fd)
        for i in range(levels):
            name = ("L%03d" % i).encode() + b"d" * (name_len - 4)
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            names.append(name)
        return names, fd

    def test_path_longer_than_path_max_created_while_watching(self):
        root = self.mkroot()
        w, initial = self.start(root, latency=0)
        rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self.addCleanup(os.close, rfd)
        levels = PATH_MAX // 201 + 3
        n0 = w.count()
        names, deep = self.make_deep(rfd, levels)
        self.addCleanup(os.close, deep)
        for i in range(5):
            fd = os.open("file%d" % i, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=deep)
            os.write(fd, b"x")
            os.close(fd)
        n1 = w.sync()
        full = join(root, b"/".join(names))
        self.assertGreater(len(full), PATH_MAX)
        creates = [to_bytes(e["path"]) for e in real_events(w.snapshot_events(n0, n1)) if e["event"] == "create"]
        for i in range(5):
            self.assertTrue(full + b"/file%d" % i in creates,
                            "deep file %d not reported with its full path; %d creates" % (i, len(creates)))
        for k in range(1, levels + 1):
            self.assertTrue(join(root, b"/".join(names[:k])) in creates, "level %d directory not reported" % k)
        self.assertConverges(w, initial)
        # changes at the bottom later are reported too
        n2 = w.count()
        fd = os.open("file0", os.O_WRONLY | os.O_APPEND, dir_fd=deep)
        os.write(fd, b"more")
        os.close(fd)
        os.unlink("file1", dir_fd=deep)
        os.rename("file2", "renamed", src_dir_fd=deep, dst_dir_fd=deep)
        n3 = w.sync()
        self.assertEvents(w, n2, n3, [("modify", full + b"/file0", None),
                                      ("delete", full + b"/file1", "file"),
                                      ("rename", full + b"/file2", full + b"/renamed", "file")])
        self.assertConverges(w, initial)
        w.stop()

    def test_path_longer_than_path_max_at_start(self):
        root = self.mkroot()
        rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self.addCleanup(os.close, rfd)
        levels = PATH_MAX // 201 + 3
        names, deep = self.make_deep(rfd, levels)
        self.addCleanup(os.close, deep)
        w, initial = self.start(root)
        full = join(root, b"/".join(names))
        self.assertTrue(full in initial, "snapshot() did not reach the bottom")
        n0 = w.count()
        fd = os.open("bottom", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=deep)
        os.close(fd)
        os.mkdir("bottom-dir", dir_fd=deep)
        n1 = w.sync()
        self.assertEvents(w, n0, n1, [("create", full + b"/bottom", "file"),
                                      ("create", full + b"/bottom-dir", "dir")],
                          ignore=("modify", "attrib"))
        # renaming a directory near the top renames the long paths below it
        os.rename(names[0], b"short", src_dir_fd=rfd, dst_dir_fd=rfd)
        fd = os.open("after-rename", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=deep)
        os.close(fd)
        n2 = w.sync()
        newfull = join(root, b"/".join([b"short"] + names[1:]))
        self.assertEvents(w, n1, n2, [("rename", join(root, names[0]), join(root, b"short"), "dir"),
                                      ("create", newfull + b"/after-rename", "file")],
                          ignore=("modify", "attrib"))
        self.assertConverges(w, initial)
        w.stop()


if __name__ == "__main__":
    unittest.main()

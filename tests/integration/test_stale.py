"""`inowatch stale`: open files whose path no longer names them, found in
/proc, and rescued through /proc/PID/fd/N.

Real processes hold the files: a helper Python process (HOLDER) opens,
writes and reads on command, one command per line on its stdin, and answers
each on its stdout, so the test knows exactly which fd holds which file,
with which bytes and at which offset, when it runs inowatch."""

import json
import os
import pwd
import grp
import re
import shutil
import signal
import stat
import subprocess
import sys
import unittest

from iwtest import NOBODY, WatchTestCase, binary, have_root, require_tool, run_cli

HOLDER = r"""
import os, sys
FLAGS = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "rw": os.O_RDWR | os.O_CREAT,
}
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "open":                      # open HEXPATH MODE -> fd
        reply = os.open(bytes.fromhex(args[0]), FLAGS[args[1]], 0o644)
    elif cmd == "write":                   # write FD HEXDATA -> bytes written
        data = bytes.fromhex(args[1])
        reply = 0
        while reply < len(data):
            reply += os.write(int(args[0]), data[reply:])
    elif cmd == "read":                    # read FD N -> bytes read
        reply = len(os.read(int(args[0]), int(args[1])))
    elif cmd == "memfd":                   # memfd -> fd
        reply = os.memfd_create("iwtest")
    elif cmd == "pipe":                    # pipe -> read fd
        reply = os.pipe()[0]
    sys.stdout.write("%d\n" % reply)
    sys.stdout.flush()
"""

JSON_KEYS = {"pid", "command", "fd", "mode", "path", "state", "size", "offset"}


class Holder:
    """One HOLDER process; prefix runs it as another user."""

    def __init__(self, tc, prefix=()):
        self.p = subprocess.Popen(list(prefix) + [sys.executable, "-c", HOLDER],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self.p.pid
        tc.addCleanup(self.stop)

    def ask(self, *words):
        self.p.stdin.write((" ".join(str(w) for w in words) + "\n").encode())
        self.p.stdin.flush()
        reply = self.p.stdout.readline()
        if not reply:
            raise AssertionError("the holder process died on %r" % (words,))
        return int(reply)

    def open(self, path, mode):
        return self.ask("open", os.fsencode(path).hex(), mode)

    def write(self, fd, data):
        return self.ask("write", fd, data.hex())

    def read(self, fd, n):
        return self.ask("read", fd, n)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)
        self.p.stdin.close()
        self.p.stdout.close()


def fdinfo_pos(pid, fd):
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        for line in f:
            if line.startswith("pos:"):
                return int(line.split()[1])
    raise AssertionError("no pos: in fdinfo")


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().rstrip("\n")


def decode_rescue_name(name):
    """(pid, fd, copy, path bytes) from a rescued file's name."""
    m = re.fullmatch(rb"(\d+)-(\d+)(?:\.(\d+))?-(.*)", name, re.S)
    assert m, name
    path = re.sub(rb"%([0-9A-F]{2})", lambda x: bytes([int(x.group(1), 16)]), m.group(4))
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), path


class Stale(WatchTestCase):

    def stale(self, *args, prefix=(), exe=None):
        return run_cli(self, ["stale"] + list(args), prefix=prefix, exe=exe)

    def stale_json(self, *args, expect=1, **kw):
        p = self.stale("--json", *args, **kw)
        self.assertEqual(p.returncode, expect, p.stderr)
        out = []
        for line in p.stdout.splitlines():
            try:
                obj = json.loads(line.decode("utf-8"))
            except ValueError as e:
                self.fail("not one JSON object per line (%s): %r" % (e, line))
            self.assertTrue(JSON_KEYS <= set(obj), obj)
            out.append(obj)
        return out, p

    def only(self, entries, pid):
        mine = [e for e in entries if e["pid"] == pid]
        self.assertEqual(len(mine), 1, "pid %d: %r" % (pid, entries))
        return mine[0]

    def three_holders(self):
        """A: appends to a file then replaced by a rename over it, and
        appends again; B: writes a file then deleted; C: reads 10 bytes of a
        deleted file. Returns {name: (holder, fd, path, bytes in the file)}."""
        a, b, c = Holder(self), Holder(self), Holder(self)
        pa, pb, pc = self.path("log.txt"), self.path("out.bin"), self.path("in.dat")
        fa = a.open(pa, "a")
        a.write(fa, b"first line\n")
        with open(pa + ".new", "wb") as f:
            f.write(b"the new file\n")
        os.rename(pa + ".new", pa)
        a.write(fa, b"second line, after the rename\n")
        fb = b.open(pb, "w")
        b.write(fb, bytes(range(256)) * 4)
        os.unlink(pb)
        with open(pc, "wb") as f:
            f.write(b"0123456789" * 10)
        fc = c.open(pc, "r")
        self.assertEqual(c.read(fc, 10), 10)
        os.unlink(pc)
        return {"A": (a, fa, pa, b"first line\nsecond line, after the rename\n"),
                "B": (b, fb, pb, bytes(range(256)) * 4),
                "C": (c, fc, pc, b"0123456789" * 10)}

    # ---- finding

    def test_json_finds_replaced_deleted_and_reader(self):
        h = self.three_holders()
        entries, _ = self.stale_json()
        want = {"A": ("wa", "replaced", 41, 41), "B": ("w", "deleted", 1024, 1024),
                "C": ("r", "deleted", 100, 10)}
        for name, (mode, state, size, offset) in want.items():
            holder, fd, path, data = h[name]
            e = self.only(entries, holder.pid)
            self.assertEqual(len(data), size)
            self.assertEqual((e["fd"], e["mode"], e["path"], e["state"], e["size"], e["offset"]),
                             (fd, mode, path, state, size, offset), name)
            self.assertEqual(e["command"], comm(holder.pid))
        # Writers first, then by pid and fd, over the whole list.
        keys = [("w" not in e["mode"], e["pid"], e["fd"]) for e in entries]
        self.assertEqual(keys, sorted(keys))

    def test_human_table(self):
        h = self.three_holders()
        p = self.stale()
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = p.stdout.decode("utf-8", "surrogateescape").splitlines()
        self.assertEqual(lines[0].split(), ["PID", "COMMAND", "FD", "MODE", "STATE", "SIZE",
                                            "OFFSET", "PATH"])
        rows = {}
        for line in lines[1:]:
            fields = line.split()
            rows.setdefault(int(fields[0]), []).append(fields)
        expect = {"A": ["wa", "replaced", "41", "41"], "B": ["w", "deleted", "1024", "1024"],
                  "C": ["r", "deleted", "100", "10"]}
        order = []
        for name, fields in expect.items():
            holder, fd, path, _ = h[name]
            self.assertEqual(len(rows[holder.pid]), 1, rows[holder.pid])
            self.assertEqual(rows[holder.pid][0][2:], [str(fd)] + fields + [path])
            order.append(next(i for i, l in enumerate(lines) if l.split()[0] == str(holder.pid)))
        self.assertLess(max(order[:2]), order[2], "a reader came before a writer")
        # aligned: every row's PATH starts in the same column as the header's
        col = lines[0].index("PATH")
        for name in expect:
            row = next(l for l in lines if l.split()[0] == str(h[name][0].pid))
            self.assertEqual(row[col:], h[name][2], row)

    def test_nothing_stale_exits_0(self):
        holder = Holder(self)
        path = self.path("kept")
        fd = holder.open(path, "w")
        holder.write(fd, b"x")
        os.rename(path, self.path("moved"))  # renamed, not replaced: the path follows
        self.stale_json("--pid", str(holder.pid), expect=0)
        p = self.stale("--pid", str(holder.pid))
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        self.assertIn(b"No open file", p.stdout)

    def test_ignores_anonymous_memory_and_non_regular_files(self):
        holder = Holder(self)
        holder.ask("memfd")
        holder.ask("pipe")
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            shm = "/dev/shm/iwtest-stale-%d" % os.getpid()
            holder.open(shm, "w")
            os.unlink(shm)
        self.stale_json("--pid", str(holder.pid), expect=0)
        # a deleted file next to them is still found
        path = self.path("gone")
        holder.open(path, "rw")
        os.unlink(path)
        entries, _ = self.stale_json("--pid", str(holder.pid))
        self.assertEqual([(e["path"], e["mode"]) for e in entries], [(path, "rw")])

    def test_real_name_ending_in_deleted_suffix(self):
        holder = Holder(self)
        path = self.path("notes (deleted)")
        holder.open(path, "w")
        self.stale_json("--pid", str(holder.pid), expect=0)
        os.unlink(path)
        entries, _ = self.stale_json("--pid", str(holder.pid))
        self.assertEqual([(e["path"], e["state"]) for e in entries], [(path, "deleted")])

    def test_non_utf8_and_newline_paths(self):
        holder = Holder(self)
        names = [b"bad\xff\xfename", b"two\nlines", b"esc\x1b[31mred"]
        paths = [os.path.join(os.fsencode(self.tmp), n) for n in names]
        fds = {}
        for p in paths:
            fds[holder.open(p, "w")] = p
            os.unlink(p)
        entries, proc = self.stale_json("--pid", str(holder.pid))
        self.assertEqual(len(proc.stdout.splitlines()), len(paths))
        self.assertEqual({e["fd"]: os.fsencode(e["path"]) for e in entries}, fds)
        p = self.stale("--pid", str(holder.pid))
        self.assertEqual(p.returncode, 1)
        self.assertNotIn(b"\x1b", p.stdout)
        self.assertEqual(len(p.stdout.splitlines()), 1 + len(paths), p.stdout)
        self.assertIn(b"two\\nlines", p.stdout)

    # ---- rescue

    def rescued_files(self, d):
        return sorted(os.listdir(os.fsencode(d)))

    def test_rescue_is_byte_identical_and_never_overwrites(self):
        h = self.three_holders()
        a, fa, pa, data_a = h["A"]
        b, fb, pb, data_b = h["B"]
        out = self.path("rescue")
        p = self.stale("--pid", str(a.pid), "--rescue", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o700)
        (first,) = self.rescued_files(out)
        self.assertEqual(decode_rescue_name(first), (a.pid, fa, 0, os.fsencode(pa)))
        with open(os.path.join(os.fsencode(out), first), "rb") as f:
            self.assertEqual(f.read(), data_a)
        self.assertIn(b"rescued pid %d fd %d into " % (a.pid, fa), p.stdout)
        self.assertIn(first, p.stdout)
        # again, after more writes: a new name, the first copy untouched
        before = os.stat(os.path.join(os.fsencode(out), first))
        a.write(fa, b"third\n")
        entries, _ = self.stale_json("--pid", str(a.pid), "--rescue", out)
        names = self.rescued_files(out)
        self.assertEqual(len(names), 2)
        second = [n for n in names if n != first][0]
        self.assertEqual(decode_rescue_name(second), (a.pid, fa, 1, os.fsencode(pa)))
        self.assertEqual(os.fsencode(entries[0]["rescued"]),
                         os.path.join(os.fsencode(out), second))
        after = os.stat(os.path.join(os.fsencode(out), first))
        self.assertEqual((before.st_ino, before.st_size, before.st_mtime_ns),
                         (after.st_ino, after.st_size, after.st_mtime_ns))
        with open(os.path.join(os.fsencode(out), second), "rb") as f:
            self.assertEqual(f.read(), data_a + b"third\n")
        # a plain O_WRONLY writer: the rescue leaves its offset alone
        self.assertEqual(self.stale("--pid", str(b.pid), "--rescue", out).returncode, 1)
        self.assertEqual(fdinfo_pos(b.pid, fb), len(data_b))
        b.write(fb, b"more")
        self.assertEqual(fdinfo_pos(b.pid, fb), len(data_b) + 4)
        (copy_b,) = [n for n in self.rescued_files(out) if decode_rescue_name(n)[0] == b.pid]
        with open(os.path.join(os.fsencode(out), copy_b), "rb") as f:
            self.assertEqual(f.read(), data_b)

    def test_rescue_large_file_and_escaped_name(self):
        holder = Holder(self)
        path = os.path.join(os.fsencode(self.tmp), b"big\nfile%\xff")
        data = os.urandom(3 << 20)
        fd = holder.open(path, "w")
        holder.write(fd, data)
        os.unlink(path)
        out = self.path("r")
        os.mkdir(out, 0o755)  # an existing directory is used as it is
        p = self.stale("--pid", str(holder.pid), "--rescue", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        (name,) = self.rescued_files(out)
        self.assertNotIn(b"\n", name)
        self.assertIn(b"%0A", name)
        self.assertEqual(decode_rescue_name(name), (holder.pid, fd, 0, path))
        with open(os.path.join(os.fsencode(out), name), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_rescue_long_path_keeps_its_end(self):
        holder = Holder(self)
        d = self.path("d" * 200, "e" * 200)
        os.makedirs(d)
        path = os.path.join(d, "the-end.log")
        fd = holder.open(path, "w")
        holder.write(fd, b"abc")
        os.unlink(path)
        out = self.path("r")
        self.assertEqual(self.stale("--pid", str(holder.pid), "--rescue", out).returncode, 1)
        (name,) = self.rescued_files(out)
        self.assertLessEqual(len(name), 255)
        self.assertTrue(name.startswith(b"%d-%d-..." % (holder.pid, fd)), name)
        self.assertTrue(name.endswith(b"%2Fthe-end.log"), name)

    def test_same_file_in_two_fds_is_copied_once(self):
        holder = Holder(self)
        path = self.path("shared")
        f1 = holder.open(path, "w")
        holder.write(f1, b"shared bytes")
        f2 = holder.open(path, "r")
        os.unlink(path)
        out = self.path("r")
        p = self.stale("--pid", str(holder.pid), "--rescue", out)
        self.assertEqual(p.returncode, 1, p.stderr)
        (name,) = self.rescued_files(out)
        self.assertIn(b"the same file as pid %d fd %d" % (holder.pid, f1), p.stdout)
        self.assertIn(b"fd %d" % f2, p.stdout)

    # ---- errors

    def assertUsage(self, *args):
        p = self.stale(*args)
        self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertTrue(p.stderr.startswith(b"inowatch: stale: "), p.stderr)
        return p

    def test_usage_errors(self):
        with open("/proc/sys/kernel/pid_max") as f:
            missing = int(f.read()) + 1
        p = self.assertUsage("--pid", str(missing))
        self.assertIn(b"no process with pid %d" % missing, p.stderr)
        for args in (["--bogus"], ["-z"], ["extra"], ["--pid"], ["--pid", "abc"],
                     ["--pid", "0"], ["--pid", "-3"], ["--rescue"], ["--rescue", ""]):
            self.assertUsage(*args)

    def test_usage_errors_name_the_option_as_written(self):
        try_ = "(try 'inowatch stale --help')"
        for args, line in ((["--pid"], "option '--pid' needs a value " + try_),
                           (["--json", "--rescue"], "option '--rescue' needs a value " + try_),
                           (["--json=yes"], "option '--json' takes no value " + try_),
                           (["--bogus=1"], "unknown option '--bogus' " + try_),
                           # short -j does not exist, although --json's val is 'j'
                           (["--json", "-jh"], "unknown option '-j' " + try_),
                           (["--pid=1", "-ph"], "unknown option '-p' " + try_)):
            with self.subTest(args=args):
                p = self.assertUsage(*args)
                self.assertEqual(p.stderr.decode(), "inowatch: stale: %s\n" % line)

    def test_rescue_into_unusable_directory(self):
        notdir = self.path("file")
        with open(notdir, "w"):
            pass
        self.assertUsage("--rescue", notdir)
        self.assertUsage("--rescue", self.path("no", "such", "parent"))

    def test_help(self):
        p = self.stale("--help")
        self.assertEqual(p.returncode, 0)
        for word in (b"--json", b"--pid", b"--rescue", b"Exit status", b"Examples"):
            self.assertIn(word, p.stdout)

    # ---- another user

    def test_as_nobody(self):
        if not have_root():
            self.skipTest("needs root to run as another user")
        require_tool(self, "setpriv")
        os.chmod(self.tmp, 0o755)
        exe = self.path("inowatch")
        shutil.copy(binary(), exe)
        os.chmod(exe, 0o755)
        # root's process, holding a deleted file: not inspectable by nobody
        mine = Holder(self)
        path = self.path("roots")
        mine.open(path, "w")
        os.unlink(path)
        # nobody's process, in a directory it owns
        d = self.path("nobodys")
        os.mkdir(d)
        os.chown(d, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        theirs = Holder(self, prefix=NOBODY)
        path = os.path.join(d, "log")
        fd = theirs.open(path, "a")
        theirs.write(fd, b"nobody was here\n")
        os.unlink(path)
        entries, p = self.stale_json(prefix=NOBODY, exe=exe)
        pids = [e["pid"] for e in entries]
        self.assertNotIn(mine.pid, pids)
        e = self.only(entries, theirs.pid)
        self.assertEqual((e["fd"], e["mode"], e["path"], e["state"], e["size"]),
                         (fd, "wa", path, "deleted", 16))
        line = (r"\Ainowatch: stale: \d+ process(es)? could not be inspected "
                r"\(run as root to see them\)\n\Z")
        self.assertRegex(p.stderr.decode(), line)
        # the human form says the same, once
        p = self.stale(prefix=NOBODY, exe=exe)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr.decode(), line)
        # asking for root's process by pid is an error, in one line
        p = self.stale("--pid", str(mine.pid), prefix=NOBODY, exe=exe)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn(b"cannot inspect process %d" % mine.pid, p.stderr)


if __name__ == "__main__":
    unittest.main()

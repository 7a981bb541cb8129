"""Shared harness for the inowatch integration tests.

The tests drive the real `inowatch watch` binary (path in $INOWATCH) on real
temporary directories and check what a user of its output would check:
starting from the tree as it was at `ready`, applying the events in order
must give the tree as it is on disk once changes have stopped.

Pieces:
  Watcher        one running `inowatch watch`, its output parsed by a reader
                 thread; wait_for(), ready(), sync(), settle(), stop().
  snapshot()     the real tree as {event_path_bytes: type}, read with lstat
                 through directory fds (so paths longer than PATH_MAX work).
  reconstruct()  applies events to a snapshot, checking that each event makes
                 sense in order (no duplicate create, no delete of an absent
                 path...).
  WatchTestCase  unittest.TestCase with a temporary directory and helpers.

Synchronisation never sleeps: sync(dir) creates a uniquely named marker file
in a watched directory and waits for its `create` event (inotify keeps order
within one instance, so every change made before it has been reported), then
removes it and waits for its `delete`. Markers are left out of every tree
comparison.

Environment: INOWATCH (the binary; default ../../build/inowatch),
INOWATCH_TIMEOUT_SCALE (multiplies every timeout, for slow builds).
"""

import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = float(os.environ.get("INOWATCH_TIMEOUT_SCALE", "1") or 1)
# Generous: a passing test never waits this long, a failing one fails after it.
TIMEOUT = 20.0 * SCALE
MARKER_PREFIX = ".iwsync-"
MARKER_PREFIX_B = MARKER_PREFIX.encode()
TYPES = ("file", "dir", "symlink", "other")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

_marker_counter = itertools.count()


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies, so that
    an aborted run (a ctest timeout, ^C) leaves no watcher behind. (The
    kernel drops this on a change of credentials, e.g. under setpriv.)"""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# The suite runs once per backend: INOWATCH_BACKEND=fanotify makes every
# watcher started here use it (ctest's integration.fanotify.* tests).
BACKEND = os.environ.get("INOWATCH_BACKEND", "inotify")


def binary():
    path = os.environ.get("INOWATCH") or os.path.join(HERE, "..", "..", "build", "inowatch")
    return os.path.abspath(path)


# --------------------------------------------------------------------------
# paths and types


def to_bytes(path):
    """An event path (str, bad bytes as \\udcXX) as the raw bytes it names."""
    if isinstance(path, bytes):
        return path
    return path.encode("utf-8", "surrogateescape")


def root_key(root):
    """The prefix the watcher uses for a root: as given, trailing '/' removed
    ('/' kept)."""
    stripped = to_bytes(root).rstrip(b"/")
    return stripped if stripped else b"/"


def join(root, name):
    """Event path of `name` (relative, str or bytes) under `root` as given."""
    key = root_key(root)
    name = to_bytes(name)
    return (b"/" + name) if key == b"/" else key + b"/" + name


def parent_of(path):
    i = path.rfind(b"/")
    if i < 0:
        return None
    return b"/" if i == 0 else path[:i]


def is_marker_path(path):
    if path is None:
        return False
    return to_bytes(path).rsplit(b"/", 1)[-1].startswith(MARKER_PREFIX_B)


def type_of_mode(mode):
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def show(path):
    """A readable form of a bytes path for failure messages."""
    if isinstance(path, bytes):
        s = path.decode("utf-8", "backslashreplace")
    else:
        s = str(path)
    if len(s) > 160:
        s = s[:60] + "...(%d chars)..." % len(s) + s[-80:]
    return repr(s)


def show_event(ev):
    if not isinstance(ev, dict):
        return show(ev)
    parts = [ev.get("event", "?")]
    if "type" in ev:
        parts.append(ev["type"])
    if "from" in ev:
        parts.append(show(to_bytes(ev["from"])) + " ->")
    if "path" in ev:
        parts.append(show(to_bytes(ev["path"])))
    if ev.get("event") == "error":
        parts.append("%s/%s %r" % (ev.get("errno"), ev.get("error"), ev.get("message")))
    return " ".join(parts)


def real_events(events):
    """The events not about sync markers."""
    return [e for e in events if not (is_marker_path(e.get("path")) or is_marker_path(e.get("from")))]


# --------------------------------------------------------------------------
# the real tree


def snapshot(root, cwd=None, exclude=None, skip_markers=True):
    """The tree under `root` (as given to the watcher, resolved against cwd)
    as {event_path_bytes: type}, the root itself included. Nothing is
    followed. exclude(rel_bytes, name_bytes) -> True leaves an entry and its
    subtree out."""
    key = root_key(root)
    fs = to_bytes(root)
    if cwd is not None and not fs.startswith(b"/"):
        fs = os.path.join(to_bytes(cwd), fs)
    out = {}
    st = os.lstat(fs)
    out[key] = type_of_mode(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(fs, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _walk(fd, key, b"", out, exclude, skip_markers)
        finally:
            os.close(fd)
    return out


def _walk(dfd, prefix, rel, out, exclude, skip_markers):
    try:
        names = os.listdir(dfd)
    except FileNotFoundError:
        return
    for name in names:
        nb = os.fsencode(name)
        if skip_markers and nb.startswith(MARKER_PREFIX_B):
            continue
        r = nb if not rel else rel + b"/" + nb
        if exclude is not None and exclude(r, nb):
            continue
        try:
            st = os.stat(nb, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        path = (b"/" + nb) if prefix == b"/" else prefix + b"/" + nb
        t = type_of_mode(st.st_mode)
        out[path] = t
        if t == "dir":
            try:
                sub = os.open(nb, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                _walk(sub, path, r, out, exclude, skip_markers)
            finally:
                os.close(sub)


def snapshot_all(roots, cwd=None, exclude=None):
    out = {}
    for r in roots:
        try:
            out.update(snapshot(r, cwd=cwd, exclude=exclude))
        except FileNotFoundError:
            pass
    return out


# --------------------------------------------------------------------------
# replaying events


class ReplayError(AssertionError):
    """An event that makes no sense where it is; `index` and `path` say
    which (for the history of that path before it)."""

    def __init__(self, msg, index=None, path=None):
        super().__init__(msg)
        self.index = index
        self.path = path


def reconstruct(initial, events, strict_content=True):
    """Applies events (parsed JSON objects) in order to `initial`
    ({path_bytes: type}) and returns the resulting tree. Raises ReplayError
    when an event does not make sense at its place in the stream: a create
    of a path already present (a duplicate create without a delete between),
    a create whose parent directory is absent, a delete or rename of an
    absent path, a type that disagrees with the one known. With
    strict_content, modify/attrib of an absent path is an error too.
    A rename onto an existing path replaces it (overwrite)."""
    state = dict(initial)

    def subtree_keys(p):
        pre = p + b"/"
        return [k for k in state if k.startswith(pre)]

    def bad_parent(path):
        """Why `path` cannot be added (its parent is not a directory in the
        tree), or None. A path none of whose ancestors is in the tree is a
        root and needs no parent."""
        par = parent_of(path)
        if par is None:
            return None
        if par in state:
            return None if state[par] == "dir" else "a " + state[par]
        anc = parent_of(par)
        while anc is not None:
            if anc in state:
                return "absent"
            if anc == b"/":
                break
            anc = parent_of(anc)
        return None

    def fail(i, ev, why, about=None):
        lo = max(0, i - 8)
        ctx = "\n".join("  %s#%d %s" % ("->" if j == i else "  ", j, show_event(events[j]))
                        for j in range(lo, min(len(events), i + 3)))
        raise ReplayError("event #%d %s: %s\n%s" % (i, show_event(ev), why, ctx), i,
                          about or ev.get("path"))

    for i, ev in enumerate(events):
        kind = ev.get("event")
        if kind in ("ready", "overflow", "error"):
            continue
        path = to_bytes(ev["path"])
        if kind == "create":
            if path in state:
                fail(i, ev, "create of a path already present (as %s): duplicate create" % state[path])
            why = bad_parent(path)
            if why:
                fail(i, ev, "create under %s, which is %s" % (show(parent_of(path)), why))
            state[path] = ev["type"]
        elif kind == "delete":
            if path not in state:
                fail(i, ev, "delete of a path that is not in the tree")
            if state[path] != ev["type"]:
                fail(i, ev, "delete says type %s, the tree has %s" % (ev["type"], state[path]))
            if state[path] == "dir":
                for k in subtree_keys(path):
                    del state[k]
            del state[path]
        elif kind == "rename":
            src = to_bytes(ev["from"])
            if src not in state:
                fail(i, ev, "rename of a path that is not in the tree", src)
            if state[src] != ev["type"]:
                fail(i, ev, "rename says type %s, the tree has %s" % (ev["type"], state[src]), src)
            if src == path:
                continue
            if path.startswith(src + b"/"):
                fail(i, ev, "rename into its own subtree")
            why = bad_parent(path)
            if why:
                fail(i, ev, "rename into %s, which is %s" % (show(parent_of(path)), why))
            if path in state:  # tolerated: overwrite
                if state[path] == "dir":
                    for k in subtree_keys(path):
                        del state[k]
                del state[path]
            moved = [(k, state[k]) for k in subtree_keys(src)] if state[src] == "dir" else []
            t = state.pop(src)
            for k, _ in moved:
                del state[k]
            state[path] = t
            for k, v in moved:
                state[path + k[len(src):]] = v
        elif kind in ("modify", "attrib"):
            if strict_content and path not in state:
                fail(i, ev, "%s of a path that is not in the tree" % kind)
        else:
            fail(i, ev, "unknown event kind")
    return state


def history(events, path):
    """(index, event) of the events that concern the entry now at `path`,
    following it back through renames (of itself or of a directory above
    it): events about it, and creates, deletes and renames of it or of a
    directory above it."""
    out = []
    q = to_bytes(path)
    for i in range(len(events) - 1, -1, -1):
        e = events[i]
        if "path" not in e:
            continue
        p = to_bytes(e["path"])
        if p == q or q.startswith(p + b"/"):
            if e["event"] in ("modify", "attrib") and p != q:
                continue
            out.append((i, e))
            if e["event"] == "rename":
                q = to_bytes(e["from"]) + q[len(p):]
        elif "from" in e and (to_bytes(e["from"]) == q or q.startswith(to_bytes(e["from"]) + b"/")):
            out.append((i, e))
    out.reverse()
    return out


def replay_history(initial, events, err):
    """What came before a replay error about a path: whether the tree at
    ready had it, and the events about it (or a directory above it) up to
    the failing one. A CI log has no other trace of them."""
    if err.path is None:
        return ""
    p = to_bytes(err.path)
    lines = ["at ready %s %s" % (show(p), "was a %s" % initial[p] if p in initial else "was absent")]
    lines += ["  #%d %s" % (i, show_event(ev)) for i, ev in history(events[:err.index], p)[-12:]]
    return "events before it about %s (or a directory above it):\n%s\n" % (show(p), "\n".join(lines))


def tree_diff(expected, got, limit=40):
    """Lines describing how `got` differs from `expected` (markers ignored)."""
    e = {k: v for k, v in expected.items() if not is_marker_path(k)}
    g = {k: v for k, v in got.items() if not is_marker_path(k)}
    lines = []
    missing = sorted(set(e) - set(g))
    extra = sorted(set(g) - set(e))
    wrong = sorted(k for k in set(e) & set(g) if e[k] != g[k])
    if missing:
        lines.append("%d on disk but not in the replayed events:" % len(missing))
        lines += ["  %s %s" % (e[k], show(k)) for k in missing[:limit]]
    if extra:
        lines.append("%d in the replayed events but not on disk:" % len(extra))
        lines += ["  %s %s" % (g[k], show(k)) for k in extra[:limit]]
    if wrong:
        lines.append("%d with the wrong type (disk vs events):" % len(wrong))
        lines += ["  %s: %s vs %s" % (show(k), e[k], g[k]) for k in wrong[:limit]]
    return lines


# --------------------------------------------------------------------------
# the watcher process


def _check_schema(obj):
    """Why a parsed JSON line breaks the contract's schema, or None."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    kind = obj.get("event")
    need = {
        "ready": (),
        "overflow": (),
        "create": ("path", "type"),
        "delete": ("path", "type"),
        "modify": ("path",),
        "attrib": ("path",),
        "rename": ("from", "path", "type"),
        "error": ("path", "errno", "error", "message"),
    }
    if kind not in need:
        return "unknown or missing \"event\": %r" % (kind,)
    for f in need[kind]:
        if f not in obj:
            return "%s event without %r" % (kind, f)
    for f in ("path", "from", "error", "message"):
        if f in need[kind] and not isinstance(obj[f], str):
            return "%r is not a string" % f
    if "type" in need[kind] and obj["type"] not in TYPES:
        return "bad type %r" % (obj["type"],)
    if kind == "error" and (not isinstance(obj["errno"], int) or isinstance(obj["errno"], bool)):
        return "errno is not a number"
    for f in ("path", "from"):
        if f in need[kind]:
            try:
                to_bytes(obj[f])
            except UnicodeEncodeError:
                return "%r holds a surrogate that is not a \\udcXX byte escape" % f
    return None


class Watcher:
    """One `inowatch watch` process with its output collected.

    In JSON mode self.events holds the parsed objects (self.times their
    arrival times); in human mode it holds the lines as str (surrogateescape).
    """

    def __init__(self, tc, roots, args=(), json_mode=True, latency=None, cwd=None,
                 prefix=(), env=None, exe=None):
        self.tc = tc
        self.roots = list(roots)
        self.cwd = cwd
        self.json_mode = json_mode
        argv = list(prefix) + [exe or binary(), "watch"]
        if BACKEND != "inotify":
            # Run as another user (prefix: setpriv), fanotify is refused:
            # then auto, which must fall back to inotify without a word.
            argv += ["--backend", "auto" if prefix else BACKEND]
        if json_mode:
            argv.append("--json")
        if latency is not None:
            argv += ["--latency", str(latency)]
        argv += list(args)
        argv += [to_bytes(r) if isinstance(r, str) else r for r in self.roots]
        self.argv = argv
        self.events = []
        self.times = []
        self.raw = []
        self.problems = []
        self.stderr_chunks = []
        self.eof = False
        self.ready_index = None
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd, env=env,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        tc.addCleanup(self._cleanup)
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    # -- reader threads

    def _read_stdout(self):
        for raw in self.proc.stdout:
            now = time.monotonic()
            with self.cond:
                self.raw.append(raw)
                if not raw.endswith(b"\n"):
                    self.problems.append("last output line not terminated by a newline: %r" % raw[-200:])
                line = raw.rstrip(b"\n")
                if self.json_mode:
                    try:
                        obj = json.loads(line.decode("utf-8"))
                    except UnicodeDecodeError as e:
                        self.problems.append("output line is not valid UTF-8 (%s): %r" % (e, line[:300]))
                        continue
                    except ValueError as e:
                        self.problems.append("output line is not valid JSON (%s): %r" % (e, line[:300]))
                        continue
                    why = _check_schema(obj)
                    if why:
                        self.problems.append("line %r: %s" % (line[:300], why))
                        continue
                    self.events.append(obj)
                else:
                    self.events.append(line.decode("utf-8", "surrogateescape"))
                self.times.append(now)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.stderr_chunks.append(raw)

    @property
    def stderr(self):
        with self.cond:
            return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def _cleanup(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._out.join(5)
        self._err.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass

    # -- reporting

    def describe(self, last=25):
        with self.cond:
            evs = list(self.events)
            problems = list(self.problems)
        lines = ["command: %s" % " ".join(a.decode("utf-8", "backslashreplace") if isinstance(a, bytes) else a
                                          for a in self.argv)]
        rc = self.proc.poll()
        lines.append("process: %s" % ("running" if rc is None else "exited with status %s" % rc))
        if problems:
            lines.append("output problems:")
            lines += ["  " + p for p in problems[:10]]
        lines.append("%d events; the last %d:" % (len(evs), min(last, len(evs))))
        for j in range(max(0, len(evs) - last), len(evs)):
            lines.append("  #%d %s" % (j, show_event(evs[j])))
        err = self.stderr.strip()
        if err:
            lines.append("stderr:")
            lines += ["  " + l for l in err.splitlines()[-15:]]
        return "\n".join(lines)

    def fail(self, msg):
        raise self.tc.failureException("%s\n%s" % (msg, self.describe()))

    # -- waiting

    def wait_for(self, pred, start=0, timeout=None, what="an event"):
        """Index of the first event at or after `start` matching pred."""
        timeout = TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        i = start
        problems = False
        with self.cond:
            while True:
                if self.problems:
                    problems = True
                    break
                while i < len(self.events):
                    if pred(self.events[i]):
                        return i
                    i += 1
                if self.eof:
                    break
                rem = deadline - time.monotonic()
                if rem <= 0:
                    break
                self.cond.wait(min(rem, 0.5))
            eof = self.eof
        if problems:
            self.fail("bad output while waiting for %s" % what)
        if eof:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self.fail("the watcher closed its output before %s" % what)
        self.fail("timed out after %.0fs waiting for %s" % (timeout, what))

    def wait_event(self, kind, path=None, start=0, timeout=None, **fields):
        pb = to_bytes(path) if path is not None else None

        def pred(e):
            if e.get("event") != kind:
                return False
            if pb is not None and to_bytes(e.get("path", "")) != pb:
                return False
            return all(e.get(k) == v for k, v in fields.items())
        what = "%s %s %s" % (kind, show(pb) if pb is not None else "", fields or "")
        return self.wait_for(pred, start=start, timeout=timeout, what=what.strip())

    def ready(self, timeout=None):
        """Waits for the `ready` event (JSON mode). Returns its index."""
        idx = self.wait_for(lambda e: e.get("event") == "ready", timeout=timeout,
                            what="the ready event")
        self.ready_index = idx
        return idx

    def count(self):
        with self.cond:
            return len(self.events)

    def snapshot_events(self, start=0, end=None):
        with self.cond:
            return list(self.events[start:end])

    def sync(self, root=None, fs_dir=None):
        """Makes sure every change made so far in the watched trees has been
        reported: creates a marker file in `root` (an event-path prefix, a
        root as given or a directory under one; default the first root),
        waits for its create, removes it and waits for its delete. Returns
        the number of events seen by then."""
        root = self.roots[0] if root is None else root
        name = "%s%d-%d" % (MARKER_PREFIX, os.getpid(), next(_marker_counter))
        evpath = join(root, name)
        if fs_dir is None:
            fs_dir = to_bytes(root)
            if self.cwd is not None and not fs_dir.startswith(b"/"):
                fs_dir = os.path.join(to_bytes(self.cwd), fs_dir)
        fs_path = os.path.join(to_bytes(fs_dir), name.encode())
        start = self.count()
        fd = os.open(fs_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        if self.json_mode:
            i = self.wait_event("create", evpath, start=start)
            os.unlink(fs_path)
            j = self.wait_event("delete", evpath, start=i + 1)
        else:
            line_c = "create file " + evpath.decode("utf-8", "surrogateescape")
            line_d = "delete file " + evpath.decode("utf-8", "surrogateescape")
            i = self.wait_for(lambda l: l == line_c, start=start, what=repr(line_c))
            os.unlink(fs_path)
            j = self.wait_for(lambda l: l == line_d, start=i + 1, what=repr(line_d))
        return j + 1

    @contextlib.contextmanager
    def stopped(self):
        """The watcher stopped (SIGSTOP) for the block, continued after it,
        whatever the block raised: it reads what happened meanwhile late."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def settle(self, root=None, rounds=20):
        """sync() until one round sees no overflow (a rescan in progress)."""
        for _ in range(rounds):
            start = self.count()
            end = self.sync(root)
            if not any(e.get("event") == "overflow" for e in self.snapshot_events(start, end)):
                return end
        self.fail("still overflowing after %d sync rounds" % rounds)

    # -- stopping

    def wait_exit(self, timeout=None):
        timeout = TIMEOUT if timeout is None else timeout
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail("the watcher did not exit within %.0fs" % timeout)
        self._out.join(TIMEOUT)
        self._err.join(TIMEOUT)
        if self._out.is_alive():
            self.fail("the watcher exited but its output pipe stayed open (a child holding it?)")
        return rc

    def stop(self, sig=signal.SIGTERM, expect=0, timeout=None):
        """Signals the watcher and waits for it; checks its exit status
        (unless expect is None) and the stream's general rules."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        rc = self.wait_exit(timeout)
        if expect is not None and rc != expect:
            self.fail("exit status %s after %s, expected %s" % (rc, signal.Signals(sig).name, expect))
        self.check_stream()
        return rc

    def check_stream(self):
        """Rules for the whole output: no malformed line; in JSON mode,
        exactly one `ready`, and nothing but `error` events before it."""
        with self.cond:
            problems = list(self.problems)
            evs = list(self.events)
        if problems:
            self.fail("malformed output")
        if not self.json_mode:
            return
        readies = [i for i, e in enumerate(evs) if e.get("event") == "ready"]
        if len(readies) != 1:
            self.fail("`ready` printed %d times, expected once" % len(readies))
        early = [e for e in evs[:readies[0]] if e.get("event") != "error"]
        if early:
            self.fail("events before `ready`: %s" % "; ".join(show_event(e) for e in early[:5]))


# --------------------------------------------------------------------------
# running things


def run_cli(tc, args, timeout=None, prefix=(), cwd=None, env=None, exe=None):
    """Runs inowatch to completion (for commands expected to exit by
    themselves). Returns the CompletedProcess (bytes stdout/stderr)."""
    timeout = TIMEOUT if timeout is None else timeout
    argv = list(prefix) + [exe or binary()] + list(args)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=cwd, env=env, start_new_session=True,
                         preexec_fn=_die_with_parent)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise tc.failureException("%s did not exit within %.0fs\nstdout: %r\nstderr: %r"
                                  % (argv, timeout, out[-2000:], err[-2000:]))
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def run_py(code, *args, timeout=None, cwd=None):
    """Runs a separate Python process (fast, independent of the test's own
    threads) and returns its stdout as str; fails on a non-zero status."""
    timeout = 120 * SCALE if timeout is None else timeout
    argv = [sys.executable, "-c", code] + [a if isinstance(a, (str, bytes)) else str(a) for a in args]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("helper process failed (%s):\n%s" % (p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def _fdinfo_count(pid, link, prefix):
    """Lines starting with `prefix` in the fdinfo of every fd of process
    `pid` whose link is `link`, or None when it has no such fd."""
    total = None
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        if target == link:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                n = sum(1 for line in f if line.startswith(prefix))
            total = (total or 0) + n
    return total


def inotify_watch_count(pid):
    """Number of inotify watches held by process `pid`, or None when it has
    no inotify fd."""
    return _fdinfo_count(pid, "anon_inode:inotify", "inotify wd:")


def fanotify_mark_count(pid):
    """Number of fanotify filesystem marks held by process `pid`, or None
    when it has no fanotify fd."""
    return _fdinfo_count(pid, "anon_inode:[fanotify]", "fanotify sdev:")


def have_root():
    return os.geteuid() == 0


def rmtree_force(path):
    """Removes a test tree whatever its modes (and however long its paths)."""
    def onerror(func, p, exc):
        try:
            os.chmod(os.path.dirname(p) or ".", 0o700)
            os.chmod(p, 0o700)
        except OSError:
            pass
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass
    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


def write(path, data=b"x", mode="wb"):
    with open(path, mode) as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --------------------------------------------------------------------------
# the TestCase base


_fanotify_refusal = []


def fanotify_refusal():
    """None when `inowatch watch --backend fanotify` works here, else the
    line it exits with (not root, an old kernel). Asked once."""
    if not _fanotify_refusal:
        d = tempfile.mkdtemp(prefix="inowatch-fan-")
        try:
            p = subprocess.Popen([binary(), "watch", "--json", "--backend", "fanotify", d],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            first = p.stdout.readline()
            p.terminate()
            err = p.communicate(timeout=10)[1]
            ok = first.startswith(b'{"event":"ready"}')
            _fanotify_refusal.append(None if ok else err.decode(errors="replace").strip())
        finally:
            os.rmdir(d)
    return _fanotify_refusal[0]


class WatchTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        b = binary()
        if not os.access(b, os.X_OK):
            self.fail("the inowatch binary %s does not exist or is not executable "
                      "(set INOWATCH)" % b)
        if BACKEND == "fanotify" and fanotify_refusal():
            self.skipTest("fanotify cannot be used here: %s" % fanotify_refusal())
        self.tmp = tempfile.mkdtemp(prefix="inowatch-it-", dir="/tmp")
        self.addCleanup(rmtree_force, self.tmp)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def mkroot(self, name="root"):
        p = self.path(name)
        os.mkdir(p)
        return p

    def watch(self, roots, **kw):
        if isinstance(roots, (str, bytes)):
            roots = [roots]
        return Watcher(self, roots, **kw)

    def start(self, roots, **kw):
        """Starts a watcher, waits for ready, and returns (watcher, tree at
        ready)."""
        exclude = kw.pop("snapshot_exclude", None)
        w = self.watch(roots, **kw)
        w.ready()
        return w, snapshot_all(w.roots, cwd=w.cwd, exclude=exclude)

    def assertWatches(self, w, dirs, msg=""):
        """inotify: one watch per watched directory, `dirs` in all. fanotify:
        no inotify watch at all, and one mark for the one filesystem the
        tests use, however many directories."""
        if BACKEND == "fanotify":
            self.assertIsNone(inotify_watch_count(w.pid), msg)
            self.assertEqual(fanotify_mark_count(w.pid), 1, msg)
        else:
            self.assertEqual(inotify_watch_count(w.pid), dirs, msg)

    def keep_evidence(self, w, initial):
        """With $INOWATCH_KEEP set to a directory, a failed convergence
        check leaves there what a replay by hand needs: the tree at ready
        and the watcher's whole output (the random workers log their
        operations there too, see test_random.RANDOM_PY)."""
        keep = os.environ.get("INOWATCH_KEEP")
        if not keep:
            return
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, "initial.txt"), "w") as f:
            for k in sorted(initial):
                f.write("%r %r\n" % (k, initial[k]))
        with w.cond:
            raw = list(w.raw)
        with open(os.path.join(keep, "events.jsonl"), "wb") as f:
            f.writelines(raw)

    def assertConverges(self, w, initial, msg="", exclude=None, start=0, end=None):
        """The core assertion: replaying the events on the tree at `ready`
        gives the tree on disk now. Call after sync()."""
        events = w.snapshot_events(start, end)
        try:
            got = reconstruct(initial, events)
        except ReplayError as e:
            self.keep_evidence(w, initial)
            raise self.failureException("%s%s\n%s%s" % (msg + "\n" if msg else "", e,
                                                         replay_history(initial, events, e),
                                                         w.describe(5)))
        now = snapshot_all(w.roots, cwd=w.cwd, exclude=exclude)
        diff = tree_diff(now, got)
        if diff:
            bad = sorted(k for k in set(now) ^ set(got) | {k for k in set(now) & set(got) if now[k] != got[k]}
                         if not is_marker_path(k))
            hist = []
            for p in bad[:4]:
                hist.append("events about %s (or a directory above it):" % show(p))
                hist += ["  #%d %s" % (start + i, show_event(e)) for i, e in history(events, p)[-12:]]
            self.keep_evidence(w, initial)
            raise self.failureException("%sthe events do not give the tree on disk:\n%s\n%s\n%s"
                                        % (msg + "\n" if msg else "", "\n".join(diff), "\n".join(hist),
                                           w.describe(10)))
        return got

    def assertEvents(self, w, start, end, expected, ignore=(), msg="", ordered=True):
        """The non-marker events in [start, end) are exactly `expected`, in
        order. Entries: (kind, path, type) or ("rename", from, path, type);
        a type of None matches any. A modify or attrib repeated right after
        itself counts once (one per batch is allowed); events whose kind is
        in `ignore` and that no entry expects are skipped. With ordered=False
        the order does not matter (events about different entries, such as
        those found by scanning a new directory, may come later)."""
        evs = real_events(w.snapshot_events(start, end))

        def norm(e):
            if e["event"] == "rename":
                return ("rename", to_bytes(e["from"]), to_bytes(e["path"]), e["type"])
            return (e["event"], to_bytes(e["path"]), e.get("type"))
        want = [tuple(to_bytes(x) if isinstance(x, (str, bytes)) and j not in (0, len(t) - 1) else x
                      for j, x in enumerate(t)) for t in expected]
        wanted = {t[:-1] for t in want}
        have = []
        for e in evs:
            h = norm(e)
            if h[0] in ignore and h[:-1] not in wanted:
                continue
            if h[0] in ("modify", "attrib") and have and have[-1] == h:
                continue
            have.append(h)
        if not ordered:
            have = sorted(have, key=lambda t: t[:-1])
            want = sorted(want, key=lambda t: t[:-1])
        ok = len(have) == len(want) and all(
            h[:-1] == t[:-1] and (t[-1] is None or h[-1] == t[-1]) for h, t in zip(have, want))
        if not ok:
            def fmt(t):
                if t[0] == "rename":
                    return "rename %s %s -> %s" % (t[3] or "", show(t[1]), show(t[2]))
                return "%s %s%s" % (t[0], t[2] + " " if t[2] else "", show(t[1]))
            self.fail("%sexpected:\n  %s\ngot:\n  %s" % (
                msg + "\n" if msg else "", "\n  ".join(fmt(t) for t in want) or "(nothing)",
                "\n  ".join(show_event(e) for e in evs) or "(nothing)"))


def require_root(tc):
    if not have_root():
        tc.skipTest("needs root")


def require_tool(tc, name):
    if shutil.which(name) is None:
        tc.skipTest("needs %s" % name)

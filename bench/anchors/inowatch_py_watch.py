#!/usr/bin/python3
"""Recursive watch with the inowatch Python module (inowatch.Watcher),
printing each event: "kind<TAB>path", "rename<TAB>from<TAB>path",
"overflow".

usage: PYTHONPATH=BUILD/python inowatch_py_watch.py DIR
Prints "ready" once the constructor returned (every watch is in place then).
The Watcher's defaults: every kind, 50 ms latency (as `inowatch watch`;
10 ms until 2026-11-23 17:23 (61f60c1), the C library's default).
Like the pyinotify and watchdog scripts, one formatted write per event."""
import signal
import sys

import inowatch

root = sys.argv[1]
out = sys.stdout


def stop(signum, frame):
    raise KeyboardInterrupt  # out of the blocked read (it runs signal handlers)


def print_events(w, out):
    """The loop a user writes; in a function, as the other scripts' per-event
    code is (a loop at module level makes each name a dict lookup)."""
    for batch in w:
        for ev in batch:
            kind = ev.kind
            if kind == "overflow":
                out.write("overflow\n")
                out.flush()
            elif kind == "rename":
                out.write("%s\t%s\t%s\n" % (kind, ev.from_path, ev.path))
            else:
                out.write("%s\t%s\n" % (kind, ev.path))


signal.signal(signal.SIGTERM, stop)
w = inowatch.Watcher(root)
out.write("ready\n")
out.flush()
try:
    print_events(w, out)
except KeyboardInterrupt:
    pass
w.close()
out.flush()

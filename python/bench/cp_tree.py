"""CPU cost of watching a big copy, for inowatch and the usual Python
watchers.

    PYTHONPATH=build/python python3 python/bench/cp_tree.py [SRC] [IMPL...]

For each implementation (inowatch, pyinotify, watchdog: those that import),
a child Python watches an empty temporary directory recursively and counts
events; once it is ready, `cp -r SRC` (default /usr/include) copies into
it; then a marker file is created and the child stops at its event. The
child reports the CPU seconds (user + system, all threads) it used from
ready to the marker, and how many of the copied entries it reported as
created (a watcher that loses the new-directory race reports fewer).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = {
    "inowatch": r"""
import os, sys, resource, json
import inowatch
root = sys.argv[1]
w = inowatch.Watcher(root)
print("ready", flush=True)
r0 = resource.getrusage(resource.RUSAGE_SELF)
events = creates = 0
done = False
for batch in w:
    events += len(batch)
    for e in batch:
        if e.kind == "create":
            creates += 1
            if e.path.endswith("/.done"):
                done = True
    if done:
        break
""",
    "pyinotify": r"""
import os, sys, resource, json
import pyinotify
root = sys.argv[1]
wm = pyinotify.WatchManager()
counts = {"events": 0, "creates": 0}
class Handler(pyinotify.ProcessEvent):
    def process_default(self, ev):
        counts["events"] += 1
        if ev.mask & pyinotify.IN_CREATE:
            counts["creates"] += 1
            if ev.pathname.endswith("/.done"):
                raise KeyboardInterrupt
mask = (pyinotify.IN_CREATE | pyinotify.IN_DELETE | pyinotify.IN_MODIFY | pyinotify.IN_ATTRIB
        | pyinotify.IN_MOVED_FROM | pyinotify.IN_MOVED_TO)
notifier = pyinotify.Notifier(wm, Handler())
wm.add_watch(root, mask, rec=True, auto_add=True)
print("ready", flush=True)
r0 = resource.getrusage(resource.RUSAGE_SELF)
try:
    notifier.loop()
except KeyboardInterrupt:
    pass
events, creates = counts["events"], counts["creates"]
""",
    "watchdog": r"""
import os, sys, resource, json, threading
from watchdog.observers import Observer
from watchdog.events import FileSystemEventHandler
root = sys.argv[1]
counts = {"events": 0, "creates": 0}
done = threading.Event()
class Handler(FileSystemEventHandler):
    def on_any_event(self, ev):
        counts["events"] += 1
        if ev.event_type == "created":
            counts["creates"] += 1
            if ev.src_path.endswith("/.done"):
                done.set()
obs = Observer()
obs.schedule(Handler(), root, recursive=True)
obs.start()
print("ready", flush=True)
r0 = resource.getrusage(resource.RUSAGE_SELF)
done.wait()
obs.stop()
obs.join()
events, creates = counts["events"], counts["creates"]
""",
}

REPORT = r"""
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"events": events, "creates": creates,
                  "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime}), flush=True)
"""


def count_entries(src):
    n = 0
    for _, dirs, files in os.walk(src):
        n += len(dirs) + len(files)
    return n


def run(impl, src):
    with tempfile.TemporaryDirectory(prefix="inowatch-bench-") as tmp:
        p = subprocess.Popen([sys.executable, "-c", CHILD[impl] + REPORT, tmp],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        t0 = time.monotonic()
        subprocess.run(["cp", "-r", src, os.path.join(tmp, "copy")], check=True)
        open(os.path.join(tmp, ".done"), "w").close()
        out = json.loads(p.stdout.readline())
        p.wait()
        out["wall"] = time.monotonic() - t0
        return out


def main():
    args = sys.argv[1:]
    src = args.pop(0) if args and os.path.isdir(args[0]) else "/usr/include"
    impls = args or list(CHILD)
    expected = count_entries(src) + 1  # the copy's root too
    print("cp -r %s: %d entries; python %s" % (src, expected, sys.version.split()[0]))
    for impl in impls:
        try:
            __import__(impl)
        except ImportError:
            print("%-10s not installed" % impl)
            continue
        runs = sorted((run(impl, src) for _ in range(3)), key=lambda r: r["cpu"])
        r = runs[1]
        print("%-10s CPU %.2f s (runs: %s), wall %.2f s, %d events, %d of %d entries created"
              % (impl, r["cpu"], ", ".join("%.2f" % x["cpu"] for x in runs), r["wall"],
                 r["events"], r["creates"] - 1, expected))


if __name__ == "__main__":
    main()

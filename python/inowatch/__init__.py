"""Watch Linux directory trees with inotify, and never lose track.

Two layers:

``Watcher`` (over libinowatch) watches whole trees and reports complete
events: starting from the tree as it was when the constructor returned,
applying the events in order gives the tree as it is on disk, through
races (files created in a new directory before its watch exists), subtree
renames and queue overflows::

    import inowatch
    with inowatch.Watcher("src", exclude=[".git", "*.o"]) as w:
        for batch in w:                       # blocks; one list per batch
            for ev in batch:
                print(ev.kind, ev.type, ev.path, ev.from_path)

    async for batch in w.aiter():             # asyncio, no threads
        ...

``Inotify`` is an exact view of the inotify syscalls (``add_watch``,
``rm_watch``, ``read`` returning ``InotifyEvent(wd, mask, cookie, name)``)
with the ``IN_*`` constants, for when you want the kernel's records as they
are.

Paths are str (os.fsdecode: undecodable bytes as surrogate escapes) when
given as str, bytes when given as bytes. Every failure is an OSError
subclass with errno and filename (FileNotFoundError, PermissionError...);
hitting the inotify watch limit raises OSError(ENOSPC) whose message names
the sysctl to raise, its value and how many more watches the tree needs.

``inowatch.logging.ReopeningFileHandler`` is a logging.FileHandler that
reopens its file when it is renamed away, replaced or deleted.
"""

# asyncio is imported by aread(), the only code that needs it: importing it
# here made `import inowatch` cost 34 ms of CPU instead of 1.5 ms, paid by
# every program that only blocks or polls.
from . import _inowatch
from ._inowatch import (  # noqa: F401  (re-exported)
    Event,
    Inotify,
    InotifyEvent,
    LATENCY_DEFAULT_MS,
    LIBRARY_VERSION,
    THRESHOLD_DEFAULT,
)

__version__ = "0.1.0"

KINDS = ("create", "modify", "attrib", "delete", "rename", "overflow", "error")
TYPES = ("file", "dir", "symlink", "other")

_IN_NAMES = [name for name in dir(_inowatch) if name.startswith("IN_")]
globals().update((name, getattr(_inowatch, name)) for name in _IN_NAMES)

__all__ = ["Watcher", "Event", "Inotify", "InotifyEvent", "KINDS", "TYPES"] + _IN_NAMES


class Watcher(_inowatch.Watcher):
    """Watcher(paths, exclude=(), *, recursive=True, latency=None, events=None, threshold=None,
            backend="inotify")

    Watches ``paths`` (one path or an iterable of them: directories,
    recursively unless ``recursive=False``, or single files; str, bytes or
    os.PathLike, all str or all bytes).

    The constructor returns when every watch is in place: every later
    change is reported. It raises OSError with errno and filename when a
    root cannot be watched (FileNotFoundError, PermissionError,
    NotADirectoryError...; ENOSPC names the watch limit and how many more
    watches the tree needs). Subdirectories that cannot be watched do not
    fail it: they are error events in the first batch.

    exclude
        Patterns (str or bytes) left out, directories without a watch. A
        pattern without '/' matches any path component (".git", "*.o"); one
        with '/' the path relative to its root ("build/out", "**" crosses
        '/'); a trailing '/' matches directories only.
    latency
        Seconds a batch may gather, once the queue is readable, so that
        repeated events merge (None: 0.05 s, LATENCY_DEFAULT_MS; 0: read
        at once). The batch ends early once ``threshold`` bytes (default
        256 KiB) were read.
    events
        The kinds to report, e.g. ``("create", "delete")``; None: all.
        "overflow" and "error" are always reported.
    backend
        "inotify" (a kernel watch per directory), "fanotify" (one mark per
        filesystem, no watch limit; needs root and Linux 5.17, else
        PermissionError or OSError), or "auto" (fanotify when permitted).
        The ``backend`` attribute says which is in use.

    Reading: ``read(timeout=None)`` returns one batch (a list of Event);
    iterating yields batches until the watcher is closed or every root is
    gone; ``aiter()`` (or ``async for batch in watcher``) does the same in
    asyncio without threads or blocking the loop.

    Events: ``kind`` ("create", "modify", "attrib", "delete", "rename",
    "overflow", "error"), ``path``, ``type`` ("file", "dir", "symlink",
    "other"; None for overflow and error), ``from_path`` (rename), and for
    errors ``errno``, ``error`` (its name), ``message`` and ``fatal``;
    ``root`` is True on the delete of a root.

    A fatal error at run time (the watch limit hit while watching a new
    directory) is delivered as an error event with ``fatal=True`` in its
    batch; the next read raises it as OSError (ENOSPC, with the message
    naming the limit), and so does every later one. Close the watcher then.

    Not thread-safe beyond this: one thread reads; close() may be called
    from another thread and wakes a blocked read, which returns [].
    """

    __slots__ = ("_waiter",)

    def close(self):
        """Stops watching and frees everything (the fd too); closing twice
        is fine. A read() blocked in another thread returns [], an aread()
        waiting in an event loop returns [] (a loop over batches ends)."""
        super().close()
        fut = getattr(self, "_waiter", None)
        if fut is not None:
            self._waiter = None
            loop = fut.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake, fut)

    def __exit__(self, *exc_info):
        self.close()

    def __aiter__(self):
        return self.aiter()

    async def aiter(self):
        """Yields batches in asyncio, like iterating the watcher: ``async
        for batch in watcher.aiter()``. Ends when the watcher is closed or
        every root is gone."""
        while True:
            batch = await self.aread()
            if not batch:
                return
            yield batch

    async def aread(self):
        """One batch, awaited without blocking the event loop: waits for
        the fd with loop.add_reader, applies the latency with a timer, then
        reads without blocking. Returns [] only when no batch will ever come
        (closed, or every root gone)."""
        import asyncio

        loop = asyncio.get_running_loop()
        while True:
            if self.closed:
                return []
            if self.has_backlog():
                batch = self.read(0)
                if batch:
                    return batch
                continue
            if self.root_count == 0:
                return []
            await self._readable(loop)
            if self.closed:
                return []
            latency = self.latency
            if latency > 0 and self.queued() < self.threshold:
                await asyncio.sleep(latency)
                if self.closed:
                    return []
            batch = self.read(0)
            if batch:
                return batch


    async def _readable(self, loop):
        """Waits until the fd is readable, through the loop's own poller,
        or until close() wakes us."""
        fd = self.fileno()
        fut = loop.create_future()
        loop.add_reader(fd, _wake, fut)
        self._waiter = fut
        try:
            await fut
        finally:
            self._waiter = None
            # Also after close(): the loop's selector still has the fd
            # (unregistering a closed fd is harmless there).
            loop.remove_reader(fd)


def _wake(fut):
    if not fut.done():
        fut.set_result(None)

"""A logging.FileHandler that follows its file name.

When a log file is rotated (renamed away, as logrotate does without
copytruncate), replaced, or deleted, a plain FileHandler goes on writing
into the old inode: the records land in the rotated file, or nowhere a
reader can see. ``ReopeningFileHandler`` notices and reopens the path
before the next write.

How it notices cheaply: an inotify watch on the file (its link count
changing, it moving) and one on its directory (the name being deleted,
moved away or replaced), read without blocking before each record. That is
one read(2) that returns EAGAIN while nothing happened: no stat(2) per
record, unlike logging.handlers.WatchedFileHandler. Only when an event came
does it compare the path's inode with the open file's, so unrelated events
(a chmod, another file in the directory) cost one stat, not a reopen.
"""

import logging as _logging
import os as _os

from ._inowatch import (
    IN_ATTRIB,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONLYDIR,
    IN_Q_OVERFLOW,
    Inotify,
)

__all__ = ["ReopeningFileHandler"]

_FILE_MASK = IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF
_DIR_MASK = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
# How many times a reopen tries to get a file that its path still names.
_OPEN_TRIES = 64


class ReopeningFileHandler(_logging.FileHandler):
    """ReopeningFileHandler(filename, mode="a", encoding=None, delay=False, errors=None)

    A drop-in for logging.FileHandler that reopens ``filename`` before the
    next record when the file it has open was renamed away, replaced by
    another file, or deleted; the new file is created at the original path
    (with ``mode``, so use "a"). Works with ``delay=True`` too.

    If the directory itself is gone, the reopen fails and the record goes
    to ``handleError`` like any write error; the next record tries again.
    """

    def __init__(self, filename, mode="a", encoding=None, delay=False, errors=None):
        self._inotify = None
        self._file_wd = None
        self._dir_wd = None
        self._stale = False
        super().__init__(filename, mode, encoding, delay, errors)

    # -- watches

    def _watch(self, stream):
        """(Re)arms the watches for the file just opened."""
        try:
            if self._inotify is None:
                self._inotify = Inotify()
            ino = self._inotify
            if self._file_wd is not None:
                try:
                    ino.rm_watch(self._file_wd)
                except OSError:
                    pass  # EINVAL: the kernel already dropped it (inode freed)
                self._file_wd = None
            directory = _os.path.dirname(self.baseFilename) or "."
            self._dir_wd = ino.add_watch(directory, _DIR_MASK)
            # The watch goes on the inode we have open, through /proc: the
            # path may already name another file.
            self._file_wd = ino.add_watch("/proc/self/fd/%d" % stream.fileno(), _FILE_MASK)
            self._stale = False
        except OSError:
            # No inotify (the instance or watch limit): fall back to a stat
            # before every record, like WatchedFileHandler.
            self._close_inotify()
            self._stale = True

    def _close_inotify(self):
        if self._inotify is not None:
            self._inotify.close()
        self._inotify = None
        self._file_wd = self._dir_wd = None

    def _changed(self):
        """True when the file we have open may no longer be at our path:
        drains the events queued since the last record."""
        if self._inotify is None:
            return True  # no inotify: check every time
        changed = self._stale
        name = _os.path.basename(self.baseFilename)
        for ev in self._inotify.read(0):
            if ev.wd == self._file_wd or ev.mask & IN_Q_OVERFLOW:
                changed = True
            elif ev.wd == self._dir_wd and (ev.name == name or not ev.name):
                changed = True  # our name, or the directory itself
            # else: an earlier file's watch, going away (IN_IGNORED)
        return changed

    def _names(self, fd):
        """The path names the inode open at fd, and it is not deleted."""
        try:
            st = _os.stat(self.baseFilename)
        except OSError:  # gone, or its directory no longer searchable
            return False
        fst = _os.fstat(fd)
        return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino) and fst.st_nlink > 0

    def _still_ours(self):
        return self._names(self.stream.fileno())

    def _check(self):
        if self.stream is None or not self._changed():
            return
        if self._still_ours():
            self._stale = False
            return
        # Renamed away, replaced or deleted: reopen at the original path.
        stream, self.stream = self.stream, None
        try:
            stream.flush()
        finally:
            stream.close()
        self.stream = self._open()

    # -- logging.FileHandler

    def _open(self):
        # Checked after the watch is in place, so that what happens to the
        # name later is an event and what happened before is seen here: an
        # unlink or rename between the open and the watch, or (Linux 6.x,
        # where an O_CREAT open looks the name up without the directory's
        # lock) an open that returned the very inode an unlink had just
        # taken to 0 links. Written to, that file would swallow every
        # record with no event left to say so (src/lib/writer.c has the
        # same loop).
        for tries in range(1, _OPEN_TRIES + 1):
            stream = super()._open()
            self._watch(stream)
            if self._inotify is None or self._names(stream.fileno()):
                return stream
            if tries == _OPEN_TRIES:
                self._stale = True  # used, and checked again before the next record
                return stream
            stream.close()

    def emit(self, record):
        try:
            self._check()
            # FileHandler.emit opens a missing stream itself (delay=True, or
            # a reopen that failed), and lets that failure out: catch it.
            super().emit(record)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def close(self):
        self.acquire()
        try:
            self._close_inotify()
            super().close()
        finally:
            self.release()

    def __repr__(self):
        return "<%s %s (%s)>" % (type(self).__name__, self.baseFilename,
                                 _logging.getLevelName(self.level))


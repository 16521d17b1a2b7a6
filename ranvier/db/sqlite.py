"""The SQLite driver: reads on the event loop, writes group-committed by one writer thread.

Theory of operation
-------------------
SQLite allows one writer at a time, and in WAL mode readers never wait for it.
So the driver keeps two connections to the same file:

* A **read connection** used directly on the event loop. A point read costs a
  few microseconds, less than handing it to a thread would, so
  :meth:`SqliteDatabase.fetchone` and :meth:`SqliteDatabase.fetchall` run it
  inline (callers keep those reads bounded). Each read is its own implicit
  transaction, so it sees every write committed before it started.

* A **writer connection** owned by one thread. Every write -- single
  statements from :meth:`SqliteDatabase.execute` and whole transactions from
  :meth:`SqliteDatabase.transaction` -- is a job on that thread's queue.

Group commit: when the writer takes a single-statement job it also drains
every other single-statement job already waiting (up to ``max_batch``) and
runs them all inside one ``BEGIN IMMEDIATE ... COMMIT``, each in its own
``SAVEPOINT``, so one failing statement is rolled back alone and reported to
its own caller while the others commit. Each caller's future resolves only
after the ``COMMIT``. Under load a batch collects the writes that arrived
while the previous one was committing, so the cost of a commit is shared;
when idle a batch holds one write and the latency is a single commit.

Transactions: ``async with db.transaction() as conn`` holds the writer
connection from ``BEGIN IMMEDIATE`` to ``COMMIT`` or ``ROLLBACK`` (on any
exception, cancellation included). Meanwhile other writes wait, so a
transaction should not await unrelated slow work. Whoever uses the writer
connection holds ``_wlock``, so it has exactly one user at a time:

* *Inline* (the common case): when the writer thread is idle -- nothing queued,
  nothing running, nothing waiting for the lock -- the loop takes the lock and
  runs the whole transaction itself, BEGIN and COMMIT included. A transaction of
  point writes then costs no thread hand-off at all; a round trip to the thread
  costs two wake-ups and two GIL hand-offs, more than the statements (and, on an
  idle server, most of a message's latency).
* *Queued*: otherwise the transaction is a job on the writer queue. When the
  writer reaches it, it runs ``BEGIN IMMEDIATE`` and waits on the transaction's
  private queue for ``COMMIT`` or ``ROLLBACK``; the statements in between still
  run on the loop, on the connection the parked writer holds.

In both, scripts and ``executemany`` batches over :data:`INLINE_MANY_MAX` rows,
which may run long, are not run on the loop but by a thread (the writer thread,
or an executor thread for an inline transaction). The writer connection's
automatic WAL checkpoints are off; the writer thread runs a passive checkpoint
every :data:`CHECKPOINT_EVERY` commits instead, so a checkpoint's writes and
fsync never stall the loop. Reads through ``conn`` use the writer connection,
so they see the transaction's own writes. A failed statement poisons the
transaction, as on PostgreSQL (see :mod:`ranvier.db.api`).
Do not call ``db.execute`` while holding a transaction in the same task: it
would wait for the transaction, which waits for the task.

``fetchone``/``fetchall`` on the database send anything that is not a plain
query (``INSERT ... RETURNING``, ``WITH ...``) to the writer as a batched job.

Results cross back to the loop with ``call_soon_threadsafe``, once per batch.
The optional ``on_query(seconds)`` hook is always called on the event loop.

Connection strings: ``file:PATH``, ``file:PATH?mode=...`` (SQLite URI), a
plain path, or ``:memory:`` -- which is a private database file in a fresh
temporary directory (under ``/dev/shm`` when it exists) deleted on
:meth:`~SqliteDatabase.close`, so tests get the exact WAL semantics of a file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from ranvier.db.api import Connection, DatabaseError, Dialect, IntegrityError, Row, UniqueViolation
from ranvier.db.placeholders import is_read_only, split_script, to_sqlite

QueryHook = Callable[[float], None]
log = logging.getLogger(__name__)

SLOW_TRANSACTION_SECONDS: Final = 1.0
"""A transaction holding the writer longer than this is logged: every other write waited."""
MIN_SQLITE_VERSION: Final = (3, 35, 0)  # RETURNING; ON CONFLICT DO UPDATE needs 3.24
_UNIQUE_CODES: Final = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})

# Job kinds.
_EXEC: Final = 0
_MANY: Final = 1
_ONE: Final = 2
_ALL: Final = 3
_SCRIPT: Final = 4
_COMMIT: Final = 5
_ROLLBACK: Final = 6
_CHECKPOINT: Final = 7

CHECKPOINT_EVERY: Final = 500
"""Commits between two passive WAL checkpoints (SQLite's automatic ones come every
1,000 WAL pages; a message's commit adds a few)."""

INLINE_MANY_MAX: Final = 64
"""Inside a transaction, an ``executemany`` with at most this many rows runs on the loop;
a larger one runs on the writer thread so the loop is not held."""


def map_error(exc: Exception) -> DatabaseError:
    """Translate a :mod:`sqlite3` exception (or a binding error) into the portable hierarchy."""
    if isinstance(exc, sqlite3.IntegrityError):
        if getattr(exc, "sqlite_errorname", "") in _UNIQUE_CODES:
            return UniqueViolation(str(exc))
        return IntegrityError(str(exc))
    return DatabaseError(f"{type(exc).__name__}: {exc}")


@dataclass
class WriterStats:
    """Counters kept by the writer thread (read them for metrics and tests)."""

    commits: int = 0
    """``COMMIT`` statements the writer issued (batches plus transactions)."""
    batched_writes: int = 0
    """Single-statement jobs executed through group commit."""
    largest_batch: int = 0
    transactions: int = 0
    """``transaction()`` blocks run (committed or rolled back)."""
    inline_transactions: int = 0
    """Of those, the ones the loop ran itself (module docstring)."""
    checkpoints: int = 0
    """Passive WAL checkpoints the writer thread ran."""


class _Job:
    """One statement for the writer thread, and the future its caller awaits."""

    __slots__ = ("args", "fut", "kind", "sql")

    def __init__(self, kind: int, sql: str, args: Any, fut: asyncio.Future[Any] | None) -> None:
        self.kind = kind
        self.sql = sql
        self.args = args
        self.fut = fut


class _Txn:
    """A transaction job: the writer serves ``ops`` until COMMIT or ROLLBACK."""

    __slots__ = ("db", "failed", "finished", "inline", "ops", "owner", "started")

    def __init__(
        self, db: SqliteDatabase, started: asyncio.Future[None], inline: bool = False
    ) -> None:
        self.db = db
        self.inline = inline
        """Run by the loop itself, holding ``_wlock`` (module docstring)."""
        self.owner = asyncio.current_task()
        self.started = started
        self.finished = False
        self.failed: DatabaseError | None = None
        """The error of the statement that poisoned the transaction (set by either thread,
        never by both at once: the connection has one user at a time)."""
        self.ops: queue.SimpleQueue[_Job] = queue.SimpleQueue()


_STOP: Final = object()
# The SQLite transaction the current task is inside, if any (to refuse self-deadlock).
_ACTIVE_TXN: ContextVar[_Txn | None] = ContextVar("ranvier_sqlite_txn", default=None)
_Result = tuple[asyncio.Future[Any] | None, BaseException | None, Any, float]


def _parse_target(connection_string: str) -> tuple[str, bool, str | None]:
    """Return (database argument for sqlite3.connect, uri flag, temp dir to delete)."""
    if connection_string in (":memory:", "file::memory:"):
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        tmpdir = tempfile.mkdtemp(prefix="ranvier-sqlite-", dir=base)
        return os.path.join(tmpdir, "db.sqlite"), False, tmpdir
    if connection_string.startswith("file:"):
        if "?" in connection_string:
            return connection_string, True, None
        return connection_string[len("file:") :], False, None
    if connection_string.startswith("sqlite:"):
        raise DatabaseError(f"unsupported connection string {connection_string!r}; use file:PATH")
    return connection_string, False, None


class SqliteDatabase:
    """A :class:`~ranvier.db.api.Database` on one SQLite file. Build with :meth:`open`."""

    dialect: Dialect = "sqlite"

    def __init__(
        self,
        reader: sqlite3.Connection,
        writer: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        *,
        on_query: QueryHook | None,
        max_batch: int,
        tmpdir: str | None,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._loop = loop
        self._on_query = on_query
        self._max_batch = max_batch
        self._tmpdir = tmpdir
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._queue: queue.SimpleQueue[_Job | _Txn | object] = queue.SimpleQueue()
        self._closed = False
        self._stopped: asyncio.Future[None] = loop.create_future()
        self.stats = WriterStats()
        self._wlock = threading.Lock()
        """Held by whoever uses the writer connection: the thread or an inline transaction."""
        self._busy = False
        """The writer thread has work in hand (or waits for ``_wlock``): no inline start."""
        self._uncheckpointed = 0
        self._checkpoint_queued = False
        self._thread = threading.Thread(target=self._run, name="ranvier-sqlite-writer", daemon=True)
        self._thread.start()

    @classmethod
    async def open(
        cls,
        connection_string: str,
        *,
        on_query: QueryHook | None = None,
        busy_timeout_ms: int = 5000,
        max_batch: int = 512,
    ) -> SqliteDatabase:
        """Open (creating if needed) the database named by ``connection_string``."""
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise DatabaseError(
                f"SQLite {sqlite3.sqlite_version} is too old; ranvier needs "
                + ".".join(map(str, MIN_SQLITE_VERSION))
            )
        target, uri, tmpdir = _parse_target(connection_string)
        try:
            writer = _connect(target, uri, busy_timeout_ms)
            # WAL lets the loop's reads proceed while the writer commits.
            writer.execute("PRAGMA journal_mode=WAL").close()
            writer.execute("PRAGMA synchronous=NORMAL")
            writer.execute("PRAGMA wal_autocheckpoint=0")  # the writer thread does them
            reader = _connect(target, uri, busy_timeout_ms)
            reader.execute("PRAGMA query_only=ON")  # every write goes through the writer
        except sqlite3.Error as exc:
            if tmpdir is not None:
                shutil.rmtree(tmpdir, ignore_errors=True)
            raise map_error(exc) from exc
        return cls(
            reader,
            writer,
            asyncio.get_running_loop(),
            on_query=on_query,
            max_batch=max_batch,
            tmpdir=tmpdir,
            busy_timeout_ms=busy_timeout_ms,
        )

    # -- reads on the loop -------------------------------------------------

    def _read(self, sql: str, args: Sequence[Any], many: bool) -> Any:
        if self._closed:
            raise DatabaseError("database is closed")
        start = time.perf_counter()
        try:
            cur = self._reader.execute(to_sqlite(sql), args)
            try:
                result = cur.fetchall() if many else cur.fetchone()
            finally:
                cur.close()
        except (sqlite3.Error, OverflowError) as exc:
            raise map_error(exc) from exc
        finally:
            if self._on_query is not None:
                self._on_query(time.perf_counter() - start)
        return result

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        """Return the first row of a query, or None. Writes go to the writer thread."""
        if is_read_only(sql):
            row: Row | None = self._read(sql, args, False)
            return row
        result: Row | None = await self._submit(_ONE, sql, args)
        return result

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        """Return all rows of a query. Writes go to the writer thread."""
        if is_read_only(sql):
            rows: list[Row] = self._read(sql, args, True)
            return rows
        result: list[Row] = await self._submit(_ALL, sql, args)
        return result

    # -- writes through the writer thread ----------------------------------

    def _in_own_transaction(self) -> bool:
        """Whether the current task holds an open transaction on this database.

        Such a task waiting for the writer would wait for itself. (Tasks it
        spawned inherit the context but are not refused: they may simply wait.)
        """
        active = _ACTIVE_TXN.get()
        return (
            active is not None
            and active.db is self
            and not active.finished
            and active.owner is asyncio.current_task()
        )

    def _submit(self, kind: int, sql: str, args: Any) -> asyncio.Future[Any]:
        if self._closed:
            raise DatabaseError("database is closed")
        if self._in_own_transaction():
            raise DatabaseError(
                "write outside the open transaction from inside it would deadlock "
                "the SQLite writer; use the transaction's connection"
            )
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._queue.put(_Job(kind, sql, args, fut))
        return fut

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one write statement; group-committed with concurrent writes."""
        result: int = await self._submit(_EXEC, sql, args)
        return result

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per argument tuple; all or nothing."""
        await self._submit(_MANY, sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Hold the writer for one ``BEGIN IMMEDIATE ... COMMIT`` unit."""
        if self._closed:
            raise DatabaseError("database is closed")
        if self._in_own_transaction():
            raise DatabaseError("SQLite transactions do not nest; use the open one")
        if not self._busy and self._queue.empty() and self._begin_inline():
            async with self._inline_transaction() as conn:
                yield conn
            return
        txn = _Txn(self, self._loop.create_future())
        self._queue.put(txn)
        try:
            await txn.started
        except BaseException:
            # If the writer did or will BEGIN, make it roll back and move on.
            txn.ops.put(_Job(_ROLLBACK, "", (), None))
            raise
        conn = _TxnConnection(self, txn)
        token = _ACTIVE_TXN.set(txn)
        try:
            yield conn
        except BaseException:
            conn.closed = True
            fut = self._loop.create_future()
            txn.ops.put(_Job(_ROLLBACK, "", (), fut))
            # The original exception matters more than how the rollback went.
            with suppress(Exception, asyncio.CancelledError):
                await fut
            raise
        else:
            conn.closed = True
            await conn.submit(_COMMIT, "", ())
        finally:
            txn.finished = True
            with suppress(ValueError):  # reset from another context: nothing to undo
                _ACTIVE_TXN.reset(token)

    def _begin_inline(self) -> bool:
        """Take ``_wlock`` and ``BEGIN IMMEDIATE`` without waiting; False if either is
        held elsewhere (another connection to the file may hold SQLite's write lock:
        waiting for it here would stall the loop, so the queued path waits instead)."""
        if not self._wlock.acquire(blocking=False):
            return False
        w = self._writer
        try:
            w.execute("PRAGMA busy_timeout=0")
            try:
                w.execute("BEGIN IMMEDIATE")
            finally:
                w.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        except sqlite3.Error as exc:
            self._wlock.release()
            if getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                return False
            raise map_error(exc) from exc
        return True

    @asynccontextmanager
    async def _inline_transaction(self) -> AsyncIterator[Connection]:
        """A transaction run by the loop, begun by :meth:`_begin_inline`."""
        began = time.monotonic()
        try:
            self.stats.transactions += 1
            self.stats.inline_transactions += 1
            txn = _Txn(self, self._loop.create_future(), inline=True)
            conn = _TxnConnection(self, txn)
            token = _ACTIVE_TXN.set(txn)
            try:
                yield conn
            except BaseException:
                conn.closed = True
                self._rollback_quietly()
                raise
            finally:
                txn.finished = True
                with suppress(ValueError):  # reset from another context: nothing to undo
                    _ACTIVE_TXN.reset(token)
            conn.closed = True
            if txn.failed is not None:
                self._rollback_quietly()
                raise txn.failed
            try:
                self._writer.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback_quietly()
                raise map_error(exc) from exc
            self.stats.commits += 1
            self._committed()
        finally:
            self._wlock.release()
            held = time.monotonic() - began
            if held > SLOW_TRANSACTION_SECONDS:
                log.warning("a SQLite transaction held the writer for %.2f s", held)

    def _committed(self) -> None:
        """Count a commit; every :data:`CHECKPOINT_EVERY`, ask the writer for a checkpoint."""
        self._uncheckpointed += 1
        if self._uncheckpointed >= CHECKPOINT_EVERY and not self._checkpoint_queued:
            self._checkpoint_queued = True
            self._queue.put(_Job(_CHECKPOINT, "", (), None))

    def set_query_hook(self, hook: QueryHook | None) -> None:
        """Install (or remove) the ``on_query(seconds)`` hook after opening: the
        server's metrics registry is built after the database it measures."""
        self._on_query = hook

    async def close(self) -> None:
        """Finish queued writes, stop the writer thread and close both connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await self._stopped
        self._reader.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- the writer thread -------------------------------------------------

    def _run(self) -> None:
        pending: object = None
        try:
            while True:
                if pending is None:
                    self._busy = False
                job = pending if pending is not None else self._queue.get()
                self._busy = True
                pending = None
                if job is _STOP:
                    break
                if isinstance(job, _Txn):
                    with self._wlock:
                        self._guarded(self._run_txn, job)
                    continue
                assert isinstance(job, _Job)
                if job.kind == _CHECKPOINT:
                    with self._wlock:
                        self._guarded(self._checkpoint, job)
                    continue
                batch = [job]
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if not isinstance(nxt, _Job):
                        pending = nxt
                        break
                    batch.append(nxt)
                with self._wlock:
                    self._guarded(self._run_batch, batch)
        finally:
            with self._wlock:
                self._writer.close()
            self._post_stopped()

    def _checkpoint(self, _job: _Job) -> None:
        """A passive WAL checkpoint (it never waits for readers)."""
        self._checkpoint_queued = False
        self._uncheckpointed = 0
        self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        self.stats.checkpoints += 1

    def _guarded(self, run: Callable[[Any], None], arg: Any) -> None:
        """Run one unit of work; an unexpected error is logged and the writer carries on."""
        try:
            run(arg)
        except Exception:
            log.exception("SQLite writer: unexpected error; rolling back")
            self._rollback_quietly()

    def _post_stopped(self) -> None:
        def done() -> None:
            if not self._stopped.done():
                self._stopped.set_result(None)

        with suppress(RuntimeError):  # the loop is gone; nobody is waiting
            self._loop.call_soon_threadsafe(done)

    def _execute(self, job: _Job) -> Any:
        """Run one job's statement on the writer connection and return its result."""
        w = self._writer
        sql = to_sqlite(job.sql)
        if job.kind == _MANY:
            w.executemany(sql, job.args).close()
            return None
        if job.kind == _SCRIPT:
            for statement in split_script(job.sql):
                w.execute(statement).close()
            return None
        cur = w.execute(sql, job.args)
        try:
            if job.kind == _ONE:
                return cur.fetchone()
            if job.kind == _ALL:
                return cur.fetchall()
            return cur.rowcount if cur.rowcount >= 0 else 0
        finally:
            cur.close()

    def _run_batch(self, batch: list[_Job]) -> None:
        w = self._writer
        results: list[_Result] = []
        single = len(batch) == 1
        try:
            w.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            err = map_error(exc)
            self._deliver([(job.fut, err, None, 0.0) for job in batch])
            return
        ok = 0
        for job in batch:
            start = time.perf_counter()
            try:
                if not single:
                    w.execute("SAVEPOINT batch_item")
                result = self._execute(job)
                if not single:
                    w.execute("RELEASE batch_item")
                results.append((job.fut, None, result, time.perf_counter() - start))
                ok += 1
            except Exception as exc:  # one job's failure must not stop the writer
                if not single:
                    try:
                        w.execute("ROLLBACK TO batch_item")
                        w.execute("RELEASE batch_item")
                    except sqlite3.Error:
                        pass
                results.append((job.fut, map_error(exc), None, time.perf_counter() - start))
        try:
            if single and ok == 0:
                w.execute("ROLLBACK")
            else:
                w.execute("COMMIT")
                self.stats.commits += 1
                self._committed()
        except sqlite3.Error as exc:
            err = map_error(exc)
            self._rollback_quietly()
            results = [(fut, e or err, None, t) for fut, e, _, t in results]
        self.stats.batched_writes += len(batch)
        if len(batch) > self.stats.largest_batch:
            self.stats.largest_batch = len(batch)
        self._deliver(results)

    def _rollback_quietly(self) -> None:
        if self._writer.in_transaction:
            with suppress(sqlite3.Error):
                self._writer.execute("ROLLBACK")

    def _run_txn(self, txn: _Txn) -> None:
        w = self._writer
        self.stats.transactions += 1
        try:
            w.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._deliver([(txn.started, map_error(exc), None, 0.0)])
            return
        self._deliver([(txn.started, None, None, 0.0)])
        began = time.monotonic()
        try:
            self._serve_txn(txn)
        finally:
            held = time.monotonic() - began
            if held > SLOW_TRANSACTION_SECONDS:
                log.warning("a SQLite transaction held the writer for %.2f s", held)

    def _serve_txn(self, txn: _Txn) -> None:
        """Execute the begun transaction's queued jobs until its COMMIT or ROLLBACK (the
        small statements run on the loop meanwhile: see the module docstring)."""
        w = self._writer
        while True:
            job = txn.ops.get()
            if job.kind == _ROLLBACK:
                self._rollback_quietly()
                self._deliver([(job.fut, None, None, 0.0)])
                return
            if job.kind == _COMMIT:
                if txn.failed is not None:
                    self._rollback_quietly()
                    self._deliver([(job.fut, txn.failed, None, 0.0)])
                    return
                try:
                    w.execute("COMMIT")
                    self.stats.commits += 1
                    self._committed()
                    self._deliver([(job.fut, None, None, 0.0)])
                except sqlite3.Error as exc:
                    self._rollback_quietly()
                    self._deliver([(job.fut, map_error(exc), None, 0.0)])
                return
            if txn.failed is not None:
                self._deliver([(job.fut, _aborted(), None, 0.0)])
                continue
            start = time.perf_counter()
            try:
                result = self._execute(job)
            except Exception as exc:  # a bad statement fails its caller, not the writer
                txn.failed = map_error(exc)
                self._deliver([(job.fut, txn.failed, None, time.perf_counter() - start)])
                continue
            self._deliver([(job.fut, None, result, time.perf_counter() - start)])

    def _deliver(self, results: list[_Result]) -> None:
        with suppress(RuntimeError):  # the loop is closed: the callers are gone
            self._loop.call_soon_threadsafe(self._resolve, results)

    def _resolve(self, results: list[_Result]) -> None:
        """On the loop: report timings and settle each caller's future."""
        hook = self._on_query
        for fut, exc, result, seconds in results:
            if hook is not None and seconds:
                hook(seconds)
            if fut is None or fut.done():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)


async def _finish(work: asyncio.Future[Any]) -> Any:
    """Await ``work`` to its end even if the caller is cancelled meanwhile (then re-raise
    the cancellation): the thread running it uses the writer connection, which the
    caller's rollback and the next user must not touch before it is done."""
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(work)
            break
        except asyncio.CancelledError:
            if work.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


def _aborted() -> DatabaseError:
    return DatabaseError(
        "current transaction is aborted by an earlier error; "
        "statements are ignored until the end of the transaction block"
    )


class _TxnConnection:
    """The ``conn`` of ``async with db.transaction() as conn`` on SQLite."""

    def __init__(self, db: SqliteDatabase, txn: _Txn) -> None:
        self._db = db
        self._txn = txn
        self.closed = False

    def submit(self, kind: int, sql: str, args: Any) -> asyncio.Future[Any]:
        """Queue a job for the writer thread (COMMIT, ROLLBACK, scripts, big batches)."""
        if self.closed and kind != _COMMIT:
            raise DatabaseError("transaction is finished")
        fut: asyncio.Future[Any] = self._db._loop.create_future()
        self._txn.ops.put(_Job(kind, sql, args, fut))
        return fut

    def _inline(self, kind: int, sql: str, args: Any) -> Any:
        """Run one statement of the transaction here, on the loop (module docstring)."""
        if self.closed:
            raise DatabaseError("transaction is finished")
        txn = self._txn
        if txn.failed is not None:
            raise _aborted()
        db = self._db
        start = time.perf_counter()
        try:
            return db._execute(_Job(kind, sql, args, None))
        except Exception as exc:  # poisons the transaction, as on PostgreSQL
            txn.failed = map_error(exc)
            raise txn.failed from exc
        finally:
            if db._on_query is not None:
                db._on_query(time.perf_counter() - start)

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement in the transaction; return the number of rows changed."""
        result: int = self._inline(_EXEC, sql, args)
        return result

    async def _off_loop(self, kind: int, sql: str, args: Any) -> None:
        """Run a long job of the transaction (script, big batch) on a thread: the writer
        thread for a queued transaction, an executor thread for an inline one (which
        holds ``_wlock``, so the connection still has one user)."""
        if not self._txn.inline:
            await self.submit(kind, sql, args)
            return
        if self.closed:
            raise DatabaseError("transaction is finished")
        txn = self._txn
        if txn.failed is not None:
            raise _aborted()
        db = self._db
        start = time.perf_counter()
        work = db._loop.run_in_executor(None, db._execute, _Job(kind, sql, args, None))
        try:
            await _finish(work)
        except Exception as exc:  # poisons the transaction, as on PostgreSQL
            txn.failed = map_error(exc)
            raise txn.failed from exc
        finally:
            if db._on_query is not None:
                db._on_query(time.perf_counter() - start)

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per argument tuple in the transaction."""
        if len(args) <= INLINE_MANY_MAX:
            self._inline(_MANY, sql, args)
        else:
            await self._off_loop(_MANY, sql, args)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        """First row of a query, seeing this transaction's writes."""
        result: Row | None = self._inline(_ONE, sql, args)
        return result

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query, seeing this transaction's writes."""
        result: list[Row] = self._inline(_ALL, sql, args)
        return result

    async def executescript(self, script: str) -> None:
        """Run a multi-statement script inside the transaction (no implicit COMMIT)."""
        await self._off_loop(_SCRIPT, script, ())


def _connect(target: str, uri: bool, busy_timeout_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target,
        uri=uri,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,  # the writer is created here, used on its thread
        cached_statements=256,
    )
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn

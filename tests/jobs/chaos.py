"""The faults a deployment meets, for the chaos test and bench/chaos.py: a Redis of its own
(stopped and started again, losing its queues as a restart without persistence does), a
database the worker reaches through a proxy that can refuse connections (and drop the ones
open), and a real worker (with its embedded beat, so that the reconciler runs) whose pool
processes or whole self can be killed.

Effects are counted by the test job kind `testapp.write_marks` (JobMark rows, one per mark and
attempt), so that work done twice shows.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Short enough that a test ends in minutes; the rules are the product's own.
FAST_SETTINGS = {
    "JOB_HEARTBEAT_S": "1",
    "JOB_STALE_AFTER_S": "4",
    "JOB_UNCLAIMED_AFTER_S": "6",
    "JOB_RECONCILE_EVERY_S": "2",
    "JOB_RETRY_FLOOR_S": "1",
    "JOB_RETRY_CEILING_S": "4",
    "JOB_RETRY_MAX": "40",
    "JOB_MAX_ATTEMPTS": "8",
}


def database_url(db_settings: dict) -> str:
    """postgres://... of a Django database's settings."""
    user = db_settings.get("USER") or "postgres"
    password = db_settings.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = db_settings.get("HOST") or "127.0.0.1"
    port = db_settings.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db_settings['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of its own on a free port, without persistence (a restart empties it)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class DatabaseProxy:
    """A TCP proxy to PostgreSQL that can go down: it then refuses new connections and drops
    the open ones, as a database that restarts or a network that partitions does."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.up()
        self._thread.start()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.setblocking(False)
        with self._lock:
            self._listener = listener
            self._selector.register(listener, selectors.EVENT_READ, None)

    def down(self) -> None:
        """Refuse new connections and drop the open ones."""
        with self._lock:
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
        self.drop()

    def drop(self) -> None:
        """Drop the open connections (as pg_terminate_backend does); new ones are let in."""
        with self._lock:
            for client, server in self._pairs:
                for end in (client, server):
                    self._forget(end)
            self._pairs = []

    def _forget(self, end: socket.socket) -> None:
        with suppress(KeyError, ValueError):
            self._selector.unregister(end)
        end.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                empty = not self._selector.get_map()
            if empty:
                time.sleep(0.05)
                continue
            for key, _ in self._selector.select(timeout=0.1):
                with self._lock:
                    self._serve(key)

    def _serve(self, key) -> None:
        if key.data is None:  # the listener: a new connection
            if self._listener is None or key.fileobj is not self._listener:
                return
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                return
            server = socket.create_connection(self.target)
            self._pairs.append((client, server))
            self._selector.register(client, selectors.EVENT_READ, server)
            self._selector.register(server, selectors.EVENT_READ, client)
            return
        source, sink = key.fileobj, key.data
        try:
            data = source.recv(65536)
            if data:
                sink.sendall(data)
                return
        except OSError:
            pass
        self._pairs = [pair for pair in self._pairs if source not in pair]
        self._forget(source)
        self._forget(sink)

    def stop(self) -> None:
        self.down()
        self._stop.set()
        self._thread.join(timeout=2)


class Worker:
    """`celery worker -B` (its beat runs the reconciler) in a process group of its own."""

    def __init__(self, log_path: Path, env: dict[str, str], concurrency: int = 2) -> None:
        self.log_path = log_path
        self.env = env
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        self._log = self.log_path.open("a")
        schedule = self.log_path.with_suffix(".beat")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "energyrec", "worker", "-B",
             f"--schedule={schedule}", "--pool=prefork", f"--concurrency={self.concurrency}",
             "--queues=default,ml", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", f"--hostname=chaos-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        mark = self.log_path.stat().st_size
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log_path.read_text()[-3000:]}")
            if "ready." in self.log_path.read_text()[mark:]:
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in time:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """The whole worker (main process, pool, beat) dies at once, as on a lost machine."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log:
            self._log.close()


def faults(folder: Path, db_settings: dict) -> tuple[RedisServer, DatabaseProxy, Worker]:
    """A Redis of its own and a proxy to the database, both started, and a worker (not yet
    started) that reaches them, with FAST_SETTINGS and the test settings."""
    redis = RedisServer(folder)
    redis.start()
    host, port = db_settings.get("HOST") or "127.0.0.1", int(db_settings.get("PORT") or 5432)
    proxy = DatabaseProxy(host, port)
    proxy.start()
    env = {
        **os.environ,
        **FAST_SETTINGS,
        "DJANGO_SETTINGS_MODULE": "energyrec.settings.test",
        "DATABASE_URL": database_url({**db_settings, "HOST": "127.0.0.1", "PORT": proxy.port}),
        "CELERY_BROKER_URL": redis.url,
        "LOG_LEVEL": "INFO",
    }
    return redis, proxy, Worker(folder / "worker.log", env)


@contextmanager
def broker(url: str) -> Iterator[None]:
    """This process's Celery app sends to `url` for the block (its pools made again)."""
    from energyrec.celery import app

    before = app.conf.broker_write_url, app.conf.broker_read_url

    def point(to) -> None:
        # The write and read URLs win over broker_url, which reads the Django setting.
        app.conf.broker_write_url, app.conf.broker_read_url = to
        app.conf.broker_transport_options = {
            **(app.conf.broker_transport_options or {}),
            "socket_connect_timeout": 2,
        }
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    point((url, url))
    try:
        yield
    finally:
        point(before)


@dataclass
class Tally:
    """What became of a set of jobs, and of their effects."""

    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    stuck: int = 0
    duplicated: int = 0
    missing_effects: int = 0
    failed_errors: list[str] = field(default_factory=list)


def tally(job_ids: list[int]) -> Tally:
    """Each job's outcome; effects: a succeeded job has exactly its marks, of one attempt; a
    failed one has none."""
    from jobs.models import JobRun
    from tests.jobs_testapp.models import JobMark

    result = Tally(jobs=len(job_ids))
    for job in JobRun.objects.filter(pk__in=job_ids):
        marks = list(JobMark.objects.filter(job=job).values_list("seq", "attempt"))
        expected = int(job.params.get("marks", 3))
        if job.status == JobRun.Status.SUCCEEDED:
            result.succeeded += 1
            result.duplicated += int(len(marks) > expected or len({a for _, a in marks}) > 1)
            result.missing_effects += int(len(marks) < expected)
        elif job.status == JobRun.Status.FAILED:
            result.failed += 1
            result.failed_errors.append(job.error.splitlines()[0] if job.error else "")
            result.duplicated += int(bool(marks))
        else:
            result.stuck += 1
    return result


def wait_finished(job_ids: list[int], timeout_s: float) -> float:
    """Seconds until every job has finished (or the timeout)."""
    from jobs.models import JobRun

    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        left = JobRun.objects.filter(pk__in=job_ids).exclude(status__in=JobRun.FINISHED)
        if not left.exists():
            break
        time.sleep(0.25)
    return time.monotonic() - started


def wait_running(job_ids: list[int], count: int = 1, timeout_s: float = 30) -> list[int]:
    """Until at least `count` of the jobs run, their ids."""
    from jobs.models import JobRun

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = list(
            JobRun.objects.filter(
                pk__in=job_ids, status=JobRun.Status.RUNNING, progress__gt=0
            ).values_list("pk", flat=True)
        )
        if len(running) >= count:
            return running
        time.sleep(0.1)
    return []


def running_pid(job_ids: list[int], timeout_s: float = 30) -> int | None:
    """The process running one of the jobs (its pool process), once one runs."""
    from jobs.models import JobRun

    for pk in wait_running(job_ids, timeout_s=timeout_s):
        worker = JobRun.objects.get(pk=pk).worker
        if worker.rpartition(":")[2].isdigit():
            return int(worker.rpartition(":")[2])
    return None


def kill_running(job_ids: list[int], timeout_s: float = 30) -> bool:
    """SIGKILL the pool process running one of the jobs; False where none ran (or it had just
    ended)."""
    pid = running_pid(job_ids, timeout_s=timeout_s)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def submit(count: int, *, steps: int = 8, step_s: float = 0.5, marks: int = 3) -> list[int]:
    """Jobs created as a request creates them (each in its transaction; the send after)."""
    from django.db import transaction

    from jobs.services import job_create

    ids = []
    for _ in range(count):
        with transaction.atomic():
            job = job_create(
                kind="testapp.write_marks",
                params={"steps": steps, "step_s": step_s, "marks": marks},
            )
        ids.append(job.pk)
    return ids

"""Fixtures for the whole suite: users, and a real Celery worker for the integration tests.

Integration tests (marked `integration`) need PostgreSQL, Redis and a worker. Where those are
missing they are skipped with the reason; under CI=true they fail instead, so CI always runs them.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.jobs.chaos import database_url

ROOT = Path(__file__).resolve().parent
WORKER_START_TIMEOUT_S = 60


def _integration_unavailable() -> str | None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return "needs Redis: set CELERY_BROKER_URL=redis://..."
    return None


def _skip_or_fail(reason: str | None) -> None:
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"this test must run in CI but cannot: {reason}")
    pytest.skip(reason)


def require_integration() -> None:
    _skip_or_fail(_integration_unavailable())


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page(live_server, tmp_path, monkeypatch):
    """A Playwright page in headless Chromium (Debian's), with the live server's URL at hand."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "needs the playwright package"
    _skip_or_fail(reason)
    # Playwright runs an event loop in this thread; the test's own ORM calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.base_url = live_server.url
        try:
            yield page
        finally:
            browser.close()


class WorkerProcess:
    """A `celery worker` child process with one pool process, talking to the test database."""

    def __init__(self, log_path: Path) -> None:
        from django.db import connection

        self.log_path = log_path
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "energyrec.settings.test",
            "DATABASE_URL": database_url(connection.settings_dict),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "energyrec",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--queues=default,ml",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log_path.read_text()[-3000:]}")
            if "ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in time:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real worker process for the session; tests using it need `transactional_db`."""
    require_integration()
    from energyrec.celery import app

    with django_db_blocker.unblock():
        with app.connection_for_write() as conn:
            for queue in ("default", "ml"):
                conn.default_channel.queue_purge(queue)
        worker = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", password="staff-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user(username="plain", password="plain-pass-123")

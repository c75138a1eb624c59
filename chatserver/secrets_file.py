"""The signing key: from configuration, or in development generated once and kept on disk."""

from __future__ import annotations

import os
import secrets

from .config import Config


def secret_key(config: Config) -> str:
    """Production must configure one (config checks that); development keeps one in data/."""
    if config.server.secret_key:
        return config.server.secret_key
    path = config.data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: if another process wrote it first, use theirs; 0600: only we may read it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key

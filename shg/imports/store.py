"""Uploaded files between the dry run and the import: kept in the instance folder.

The page checks a file in one request and imports it in a later one (after the user has
read the report), so the file is kept on the server, under a random token, with a small
JSON record of its kind, its owner and the reports so far. Only its owner reaches it.
Files older than ``KEEP`` are removed when a new one arrives.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from typing import Optional

from flask import current_app

#: how long an uploaded file is kept
KEEP = 2 * 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass
class Upload:
    token: str
    meta: dict
    folder: str

    @property
    def data(self) -> bytes:
        with open(os.path.join(self.folder, "upload"), "rb") as fh:
            return fh.read()

    def save(self) -> None:
        path = os.path.join(self.folder, "meta.json")
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(self.meta, fh, ensure_ascii=False)
        os.replace(path + ".tmp", path)


def _root() -> str:
    return current_app.config.get("IMPORT_FOLDER") or os.path.join(current_app.instance_path,
                                                                  "imports")


def save_upload(data: bytes, filename: str, kind: str, user_id: int) -> Upload:
    root = _root()
    os.makedirs(root, exist_ok=True)
    _forget_old(root)
    token = secrets.token_urlsafe(18)
    folder = os.path.join(root, token)
    os.makedirs(folder)
    with open(os.path.join(folder, "upload"), "wb") as fh:
        fh.write(data)
    upload = Upload(token, {"kind": kind, "filename": filename[:200], "user_id": user_id,
                            "uploaded_at": time.time(), "check": None, "result": None}, folder)
    upload.save()
    return upload


def load(token: str, user_id: int) -> Optional[Upload]:
    """The upload, if it exists and is this user's."""
    if not _TOKEN.match(token or ""):
        return None
    folder = os.path.join(_root(), token)
    try:
        with open(os.path.join(folder, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != user_id:
        return None
    return Upload(token, meta, folder)


def _forget_old(root: str) -> None:
    now = time.time()
    for name in os.listdir(root):
        folder = os.path.join(root, name)
        try:
            if now - os.path.getmtime(folder) > KEEP:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue

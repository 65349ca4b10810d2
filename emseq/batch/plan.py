"""What a batch has to do: the manifest of each sample, and which samples are complete.

A sample's directory is complete when its manifest (written last) records the same engine,
sample row, options and input fingerprints (size, mtime, SHA-256) as the run being planned.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from .sheet import ENGINE_COLUMNS

__all__ = ["MANIFEST_NAME", "OPTION_FILES", "is_complete", "manifest"]

MANIFEST_NAME = "emseq_manifest.json"
#: Options whose value is a file every sample reads (part of each sample's manifest).
OPTION_FILES = ("transcripts", "tx2gene", "gtf", "bfile", "control")


def _file_fingerprint(path: str) -> dict[str, Any]:
    stat = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "sha256": digest.hexdigest()}


def manifest(engine: str, row: Mapping[str, str], options: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of one sample: engine, sheet row, options and the fingerprints of every
    file it reads (its own input and the shared files among ``options``)."""
    inputs = [row[ENGINE_COLUMNS[engine][0][1]]]
    inputs += [v for k, v in sorted(options.items()) if k in OPTION_FILES and v]
    return {"engine": engine, "sample": dict(row), "options": _jsonable(options),
            "inputs": [_file_fingerprint(p) for p in inputs]}


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(options), default=str, sort_keys=True))


def is_complete(directory: Path, expected: Mapping[str, Any]) -> bool:
    """Whether ``directory`` holds a finished sample whose manifest equals ``expected``."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return False
    try:
        recorded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    recorded.pop("emseq_version", None)
    recorded.pop("stats", None)
    return recorded == expected



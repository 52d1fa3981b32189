"""The design this project replaces, for tests/bench/http to measure in the
same run: DAMNIT-web's file routes, FastAPI under uvicorn, with a watchdog
observer per watched file that re-reads and re-hashes it on every change.

/has_new_checksum answers from that state (the JSON literal true or false)
and /file_content sends the content with its checksum. The proposal's
folder is looked up once per file and kept: the baseline is given every
advantage but the design itself.

Run with Debian's python3 (python3-fastapi, python3-uvicorn,
python3-watchdog): BASELINE_DATA_ROOT=DIR python3 -m uvicorn
fastapi_baseline:app --app-dir tests/bench ...
"""
import glob
import os
import threading
import zlib

from fastapi import FastAPI, HTTPException
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

DATA_ROOT = os.environ["BASELINE_DATA_ROOT"]

app = FastAPI()
_lock = threading.Lock()
_files = {}  # path -> (checksum, text)
_paths = {}  # (proposal, file_name) -> path
_observer = Observer()
_observer.start()


def _load(path):
    with open(path, "rb") as f:
        data = f.read()
    with _lock:
        _files[path] = ("%08x" % zlib.crc32(data), data.decode("utf-8", "replace"))


class _Rehash(FileSystemEventHandler):
    def __init__(self, path):
        self.path = path

    def on_any_event(self, event):
        if self.path in (event.src_path, getattr(event, "dest_path", None)):
            _load(self.path)


def _watched(proposal, file_name):
    key = (proposal, file_name)
    path = _paths.get(key)
    if path is None:
        found = glob.glob(os.path.join(DATA_ROOT, "*", "*", "p%06d" % proposal,
                                       "usr", "Shared", "amore"))
        if not found:
            raise HTTPException(404, "unknown proposal")
        path = os.path.join(found[0], file_name)
        if not os.path.isfile(path):
            raise HTTPException(404, "no such file")
        _load(path)
        _observer.schedule(_Rehash(path), os.path.dirname(path))
        _paths[key] = path
    return path


@app.get("/has_new_checksum")
async def has_new_checksum(proposal: int, file_name: str, checksum: str):
    path = _watched(proposal, file_name)
    with _lock:
        return _files[path][0] != checksum


@app.get("/file_content")
async def file_content(proposal: int, file_name: str):
    path = _watched(proposal, file_name)
    with _lock:
        checksum, text = _files[path]
    return {"proposal": proposal, "file_name": file_name, "content": text,
            "checksum": checksum}

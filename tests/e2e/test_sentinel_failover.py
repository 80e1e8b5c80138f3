"""Redis Sentinel for real: a master, a replica and three sentinels, all ``redis-server``
processes on free ports, under both gateways (``BFF_REDIS_MODE=sentinel``). The master dies
during load: no session acknowledged before the failover is lost (once the replica has it: Redis
replicates asynchronously, which ``docs/reliability.md`` states), no 500 at any time, 503 with
Retry-After only while the sentinels elect the new master, and recovery by itself."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.faults_support import AppUser, WebUser, assert_not_a_fault, eventually
from tests.fixtures.gateways import RunningGateway, StartGateway
from tests.fixtures.idp import IdpServer
from tests.fixtures.redis import redis_server_command
from tests.fixtures.servers import free_port

MASTER_NAME = "mymaster"
DOWN_AFTER_MS = 1000


@dataclass
class SentinelSet:
    workdir: Path
    master_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis://{hosts}/{MASTER_NAME}"

    def _run(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        for name, port in (("master", self.master_port), ("replica", self.replica_port)):
            data = self.workdir / name
            data.mkdir()
            command = redis_server_command(binary, port, str(data))
            if name == "replica":
                command += ["--replicaof", "127.0.0.1", str(self.master_port)]
            self._run(name, command)
        for n, port in enumerate(self.sentinel_ports):
            config = self.workdir / f"sentinel-{n}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._run(f"sentinel-{n}", [binary, str(config), "--sentinel"])
        eventually(self._replica_in_sync, what="the replica follows the master")
        eventually(self._sentinels_see_the_replica, what="the sentinels know the replica")

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2)

    def _replica_in_sync(self) -> bool:
        try:
            with self.client(self.master_port) as master, self.client(self.replica_port) as rep:
                info = rep.info("replication")
                return bool(
                    info.get("master_link_status") == "up"
                    and info.get("slave_repl_offset")
                    == master.info("replication")["master_repl_offset"]
                )
        except redis.ConnectionError:
            return False

    def _sentinels_see_the_replica(self) -> bool:
        try:
            for port in self.sentinel_ports:
                with self.client(port) as sentinel:
                    if not sentinel.execute_command("SENTINEL", "REPLICAS", MASTER_NAME):
                        return False
                    if len(sentinel.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)) < 2:
                        return False
            return True
        except redis.ConnectionError:
            return False

    def current_master_port(self) -> int:
        with self.client(self.sentinel_ports[0]) as sentinel:
            _, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
            return int(port)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            process.wait(10)


@pytest.fixture(scope="module")
def sentinels() -> Iterator[SentinelSet]:
    workdir = Path(tempfile.mkdtemp(prefix="bff-test-sentinel-"))
    servers = SentinelSet(workdir)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_master_fails_over_during_load_and_no_acknowledged_session_is_lost(
    sentinels: SentinelSet,
    idp_server: IdpServer,
    core_stubs_server: str,
    start_module_gateway: StartGateway,
) -> None:
    options = {
        "idp_url": idp_server.url,
        "stubs_url": core_stubs_server,
        "redis_url": sentinels.url,
        "BFF_REDIS_MODE": "sentinel",
    }
    web: RunningGateway = start_module_gateway("web", **options)
    mobile: RunningGateway = start_module_gateway("mobile", **options)
    web_users = [WebUser(f"failover-web-{n}").log_in(web.url) for n in range(4)]
    apps = [AppUser(f"failover-app-{n}").log_in(mobile.url) for n in range(4)]
    eventually(sentinels._replica_in_sync, what="the sessions reached the replica")

    answers: list[httpx.Response] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            for user in web_users:
                answers.append(user.home(web.url))
            for app in apps:
                answers.append(app.home(mobile.url))

    driver = threading.Thread(target=load)
    driver.start()
    try:
        eventually(lambda: len(answers) >= 8, what="load is running")
        sentinels.processes["master"].send_signal(signal.SIGKILL)
        eventually(
            lambda: sentinels.current_master_port() == sentinels.replica_port,
            within_s=30,
            what="the sentinels promote the replica",
        )
        recovered = len(answers)
        eventually(
            lambda: (
                len(answers) > recovered + 8 and all(a.status_code == 200 for a in answers[-8:])
            ),
            within_s=30,
            what="both gateways answer from the new master by themselves",
        )
    finally:
        stop.set()
        driver.join(30)

    for answer in answers:
        assert_not_a_fault(answer)
        assert answer.status_code in (200, 503), answer.text
    for user in web_users:
        assert user.home(web.url).status_code == 200
        user.close()
    for app in apps:
        assert app.home(mobile.url).status_code == 200
        assert app.refresh(mobile.url).status_code == 200  # written to the new master

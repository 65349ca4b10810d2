"""A one-node SLURM cluster on localhost, run as this process's own children.

Debian's ``slurm-wlm`` and ``munge`` packages give a real scheduler: ``munged`` (on a private
socket and key), ``slurmctld`` and ``slurmd``, all in the foreground, configured by a
``slurm.conf`` written into a temporary folder (state, spool, pid and log files there too, free
ports). :class:`OneNodeSlurm` starts them, waits until ``sinfo`` shows the node idle and stops
them by their pids. The tests' session fixture and ``benchmarks/bench_batch.py`` use it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .daemons import Daemons

#: Binaries of the two Debian packages; the fixture skips when one is absent.
REQUIRED_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel",
                     "scontrol")
PARTITION = "debug"


def missing_binaries() -> list[str]:
    """The required binaries that are not on the PATH (``/usr/sbin`` included)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return [name for name in REQUIRED_BINARIES if shutil.which(name, path=path) is None]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class OneNodeSlurm(Daemons):
    """munged + slurmctld + slurmd on this host, one partition ``debug`` of ``cpus`` CPUs.

    Parameters
    ----------
    folder : Path
        Where ``slurm.conf``, the munge key and socket, the state, spool and log files go.
    cpus : int
        CPUs of the node (``CPUs=`` in ``slurm.conf``); the machine should have as many.
    memory_mb : int
        ``RealMemory`` of the node.
    """

    def __init__(self, folder: Path, cpus: int = 2, memory_mb: int = 8000) -> None:
        super().__init__(folder)
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.conf = self.folder / "slurm.conf"
        self.host = socket.gethostname().split(".")[0]
        self.environment = {**os.environ, "SLURM_CONF": str(self.conf),
                            "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}

    # ------------------------------------------------------------------ configuration
    def _write_files(self) -> None:
        folder = self.folder
        for name in ("state", "spool", "log", "munge"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / "munge").chmod(0o700)
        key = folder / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        controller_port, node_port = _free_ports(2)
        user = getpass.getuser()
        self.conf.write_text("\n".join([
            "ClusterName=emseqtest",
            f"SlurmctldHost={self.host}",
            f"SlurmUser={user}",
            f"SlurmdUser={user}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={folder / 'munge' / 'munge.socket'}",
            f"SlurmctldPort={controller_port}",
            f"SlurmdPort={node_port}",
            f"StateSaveLocation={folder / 'state'}",
            f"SlurmdSpoolDir={folder / 'spool'}",
            f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
            f"SlurmdPidFile={folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            f"DefMemPerCPU={self.memory_mb // (2 * self.cpus)}",
            "ReturnToService=2",
            "SlurmdParameters=config_overrides",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={folder / 'log' / 'jobcomp.log'}",
            "SchedulerType=sched/backfill",
            "MinJobAge=600",
            "KillWait=5",
            "InactiveLimit=0",
            f"NodeName={self.host} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE "
            "State=UP OverSubscribe=NO",
            "",
        ]))

    # ------------------------------------------------------------------ processes
    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command (``sinfo``, ``squeue``...) against this cluster."""
        return subprocess.run(list(command), env=self.environment, capture_output=True,
                              text=True, check=check, timeout=60)

    def start(self, timeout: float = 60.0) -> None:
        """Start the three daemons and wait until the node is idle.

        Raises
        ------
        RuntimeError
            If the node is not idle within ``timeout`` seconds (with the logs' last lines).
        """
        self._write_files()
        munge = self.folder / "munge"
        self._spawn("munged", ["munged", "--foreground", "--force",
                               f"--socket={munge / 'munge.socket'}",
                               f"--key-file={munge / 'munge.key'}",
                               f"--pid-file={munge / 'munged.pid'}",
                               f"--log-file={self.folder / 'log' / 'munged.log'}",
                               f"--seed-file={munge / 'munged.seed'}"])
        deadline = time.monotonic() + timeout
        while not (munge / "munge.socket").exists():
            self._check_alive(deadline, "munged")
            time.sleep(0.05)
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        while True:
            self._check_alive(deadline, "the node to be idle")
            state = self.run("sinfo", "-h", "-N", "-o", "%t", check=False).stdout.split()
            if state and state[0] == "idle":
                return
            time.sleep(0.2)

    def stop(self) -> None:
        """Cancel the jobs left, then stop the daemons (SIGTERM, SIGKILL after 15 s) by pid."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            self.run("scancel", "--full", "-u", getpass.getuser(), check=False)
        self._terminate(("slurmd", "slurmctld", "munged"), wait=15)

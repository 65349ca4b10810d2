"""A one-node Grid Engine (SGE 8.1) cell on localhost, run as this process's own children.

Debian's ``gridengine-master``, ``gridengine-exec`` and ``gridengine-client`` packages give a
real scheduler. The packaged cell (``/var/lib/gridengine/default``, started by init scripts) is
left alone: :class:`OneNodeSge` makes a private ``SGE_ROOT`` in a temporary folder (its own
bootstrap file, Berkeley DB spool, global configuration and free ports), runs ``sge_qmaster``
and ``sge_execd`` in the foreground (``SGE_ND``) as its own child processes, adds this host as
submit and execution host, a parallel environment ``smp`` and a queue ``all.q`` of ``slots``
slots with ``qconf -Ap`` / ``-Aq`` from files, waits until ``qstat -f`` shows the queue usable
and stops everything by pid. The tests' session fixture uses it.
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
from .slurm_node import _free_ports

#: Binaries of the three Debian packages; the fixture skips when one is absent.
REQUIRED_BINARIES = ("sge_qmaster", "sge_execd", "qconf", "qsub", "qstat", "qdel")
#: Where Debian installs the real programs (``/usr/bin/q*`` are wrappers that exec them).
SGE_PROGRAMS = Path("/usr/lib/gridengine")
#: The packaged templates the cell is made from.
SGE_TEMPLATES = Path("/usr/share/gridengine")
QUEUE = "all.q"
PARALLEL_ENVIRONMENT = "smp"


def missing_binaries() -> list[str]:
    """The required binaries that are not on the PATH (``/usr/sbin`` included), plus the
    spool tools of ``/usr/lib/gridengine``."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    missing = [name for name in REQUIRED_BINARIES if shutil.which(name, path=path) is None]
    missing += [str(SGE_PROGRAMS / name) for name in ("spoolinit", "spooldefaults")
                if not (SGE_PROGRAMS / name).is_file()]
    return missing


def _with_values(text: str, values: dict[str, str]) -> str:
    """A ``key value`` configuration (``qconf -sq``...) with the values of ``values``."""
    lines = []
    for line in text.splitlines():
        key = line.split(maxsplit=1)[0] if line.strip() else ""
        lines.append(f"{key} {values[key]}" if key in values else line)
    return "\n".join(lines) + "\n"


def host_problem(host: str) -> str | None:
    """Why ``host`` cannot run a cell (it does not resolve), or None."""
    try:
        socket.gethostbyname(host)
    except OSError as exc:
        return f"the host name {host!r} does not resolve ({exc}); add it to /etc/hosts"
    return None


class OneNodeSge(Daemons):
    """sge_qmaster + sge_execd on this host: queue ``all.q`` of ``slots`` slots, PE ``smp``.

    Parameters
    ----------
    folder : Path
        The private ``SGE_ROOT``: cell files, spool, daemons' logs.
    slots : int
        Slots of the queue and of the parallel environment; the machine should have as many
        cores.
    """

    def __init__(self, folder: Path, slots: int = 2) -> None:
        super().__init__(folder)
        self.slots = slots
        self.host = socket.gethostname()
        self.common = self.folder / "default" / "common"
        self.spool = self.folder / "spool"
        qmaster_port, execd_port = _free_ports(2)
        #: What a client of this cell needs (``qsub``, dask-jobqueue's ``SGECluster``).
        self.variables = {"SGE_ROOT": str(self.folder), "SGE_CELL": "default",
                          "SGE_QMASTER_PORT": str(qmaster_port),
                          "SGE_EXECD_PORT": str(execd_port)}
        self.environment = {**os.environ, **self.variables, "SGE_ND": "true",
                            "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}

    # ------------------------------------------------------------------ configuration
    def _write_cell(self) -> None:
        for name in ("db", "qmaster", "execd"):
            (self.spool / name).mkdir(parents=True, exist_ok=True)
        self.common.mkdir(parents=True, exist_ok=True)
        (self.folder / "log").mkdir(exist_ok=True)
        for name in ("bin", "lib", "utilbin", "util"):  # the architecture folders
            link = self.folder / name
            if not link.exists():
                link.symlink_to(Path("/var/lib/gridengine") / name)
        user = getpass.getuser()
        (self.common / "bootstrap").write_text("\n".join([
            "admin_user              none",  # the daemons stay this process's user
            "default_domain          none",
            "ignore_fqdn             true",
            "spooling_method         berkeleydb",
            "spooling_lib            libspoolb",
            f"spooling_params         {self.spool / 'db'}",
            f"binary_path             {SGE_PROGRAMS}",
            f"qmaster_spool_dir       {self.spool / 'qmaster'}",
            "security_mode           none",
            "listener_threads        2",
            "worker_threads          2",
            "scheduler_threads       1",
            "",
        ]))
        (self.common / "act_qmaster").write_text(self.host + "\n")
        # The daemons name a peer by the reverse lookup of its address; where this host's
        # address maps back to another name (127.0.0.1 -> localhost), say they are one host.
        address = socket.gethostbyname(self.host)
        try:
            reverse = socket.gethostbyaddr(address)[0]
        except OSError:
            reverse = self.host
        if reverse != self.host:
            (self.common / "host_aliases").write_text(f"{self.host} {reverse}\n")
        settings = {"execd_spool_dir": str(self.spool / "execd"), "min_uid": "0",
                    "min_gid": "0", "mailer": "/bin/true", "load_report_time": "00:00:05"}
        (self.folder / "global.conf").write_text(
            _with_values((SGE_TEMPLATES / "default-configuration").read_text(), settings))
        tools = SGE_PROGRAMS
        self._setup([str(tools / "spoolinit"), "berkeleydb", "libspoolb",
                     str(self.spool / "db"), "init"])
        self._setup([str(tools / "spooldefaults"), "configuration",
                     str(self.folder / "global.conf")])
        self._setup([str(tools / "spooldefaults"), "complexes",
                     str(SGE_TEMPLATES / "util" / "resources" / "centry")])
        self._setup([str(tools / "spooldefaults"), "usersets",
                     str(SGE_TEMPLATES / "util" / "resources" / "usersets")])
        self._setup([str(tools / "spooldefaults"), "managers", user])

    def _setup(self, command: list[str]) -> None:
        done = subprocess.run(command, env=self.environment, capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n"
                               f"{done.stdout}{done.stderr}")

    def _configure_queue(self) -> None:
        """Submit and execution host, scheduler settings, PE and queue, with qconf."""
        self.run("qconf", "-as", self.host)
        exec_host = self.folder / "exechost.conf"
        exec_host.write_text("\n".join([
            f"hostname {self.host}", "load_scaling NONE", "complex_values NONE",
            "user_lists NONE", "xuser_lists NONE", "projects NONE", "xprojects NONE",
            "usage_scaling NONE", "report_variables NONE", ""]))
        self.run("qconf", "-Ae", str(exec_host))
        # schedule within a second of a submission, not the default 15 s
        scheduler = self.run("qconf", "-ssconf").stdout
        changes = {"schedule_interval": "0:0:1", "flush_submit_sec": "1",
                   "flush_finish_sec": "1", "job_load_adjustments": "NONE"}
        conf = self.folder / "scheduler.conf"
        conf.write_text(_with_values(scheduler, changes))
        self.run("qconf", "-Msconf", str(conf))
        pe = self.folder / "pe.conf"
        pe.write_text("\n".join([
            f"pe_name {PARALLEL_ENVIRONMENT}", f"slots {self.slots}", "user_lists NONE",
            "xuser_lists NONE", "start_proc_args NONE", "stop_proc_args NONE",
            "allocation_rule $pe_slots", "control_slaves FALSE", "job_is_first_task TRUE",
            "urgency_slots min", "accounting_summary FALSE", "qsort_args NONE", ""]))
        self.run("qconf", "-Ap", str(pe))
        changes = {"qname": QUEUE, "hostlist": self.host, "slots": str(self.slots),
                   "pe_list": PARALLEL_ENVIRONMENT, "shell": "/bin/bash",
                   # the machine is shared: its load must not put the queue in alarm
                   "load_thresholds": "NONE", "shell_start_mode": "unix_behavior"}
        template = self.run("qconf", "-sq").stdout  # the built-in queue template
        queue = self.folder / "queue.conf"
        queue.write_text(_with_values(template, changes))
        self.run("qconf", "-Aq", str(queue))

    # ------------------------------------------------------------------ processes
    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run an SGE client command (``qstat``, ``qconf``...) against this cell.

        Raises
        ------
        RuntimeError
            With ``check``, when the command fails (its output and the daemons' logs).
        """
        done = subprocess.run(list(command), env=self.environment, capture_output=True,
                              text=True, timeout=60, cwd=self.folder)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}: "
                               f"{done.stdout}{done.stderr}\n{self.log_tail()}")
        return done

    def queue_states(self) -> str | None:
        """The states column of ``all.q@host`` in ``qstat -f`` ('' when usable), or None
        while qmaster does not list it."""
        listed = self.run("qstat", "-f", "-q", QUEUE, check=False).stdout
        for line in listed.splitlines():
            fields = line.split()
            if fields and fields[0] == f"{QUEUE}@{self.host}":
                return fields[5] if len(fields) > 5 else ""
        return None

    def start(self, timeout: float = 90.0) -> None:
        """Make the cell, start qmaster, configure the queue, start execd and wait until the
        queue is usable (no alarm, unknown or disabled state).

        Raises
        ------
        RuntimeError
            If a step fails or the queue is not usable within ``timeout`` seconds (with the
            logs' last lines).
        """
        self._write_cell()
        deadline = time.monotonic() + timeout
        # each in a session of its own: execd's job shepherds go with it if it must be killed
        self._spawn("sge_qmaster", [str(SGE_PROGRAMS / "sge_qmaster")], cwd=self.folder,
                    start_new_session=True)
        while self.run("qconf", "-sh", check=False).returncode != 0:
            self._check_alive(deadline, "qmaster to answer")
            time.sleep(0.2)
        self._configure_queue()
        self._spawn("sge_execd", [str(SGE_PROGRAMS / "sge_execd")], cwd=self.folder,
                    start_new_session=True)
        while True:
            self._check_alive(deadline, f"{QUEUE} to be usable in qstat -f")
            if self.queue_states() == "":
                return
            time.sleep(0.2)

    def _log_files(self) -> list[Path]:
        return super()._log_files() + sorted(self.spool.rglob("messages"))

    def jobs(self) -> set[str]:
        """Ids of the jobs qmaster lists (pending, running or being deleted)."""
        listed = self.run("qstat", "-u", "*", check=False).stdout.splitlines()[2:]
        return {line.split()[0] for line in listed if line.split()}

    def stop(self) -> None:
        """Delete the jobs left and wait (30 s at most) until they are gone, then stop
        execd (with its job shepherds) and qmaster: SIGTERM, SIGKILL after 30 s, by pid."""
        qmaster = self.processes.get("sge_qmaster")
        if qmaster is not None and qmaster.poll() is None and self.jobs():
            self.run("qdel", "-f", "-u", "*", check=False)
            deadline = time.monotonic() + 30
            while self.jobs() and time.monotonic() < deadline:
                time.sleep(0.5)
        self._terminate(("sge_execd", "sge_qmaster"), wait=30)

"""PBS/Torque commands over the one-node SLURM: Debian's ``slurm-wlm-torque``.

Its ``qsub``, ``qstat`` and ``qdel`` are Perl wrappers that run ``sbatch``, ``squeue`` and
``scancel`` *from their own folder* (``FindBin``). The package declares ``Conflicts:
gridengine-client`` (both ship ``/usr/bin/qsub``), so beside Grid Engine it cannot be
installed: ``.ci/run`` unpacks it with ``dpkg-deb -x`` into :data:`UNPACKED` instead, and
installs its Perl modules (``libslurm-perl``, ``libslurmdb-perl``, ``libswitch-perl``), which do
not conflict. :func:`wrapper_folder` puts the wrappers and the SLURM commands they call in one
folder, to go first on the PATH of a test (so Grid Engine's ``qsub`` is out of its way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: Where ``.ci/run`` unpacks the package (``$EMSEQ_TORQUE_WRAPPERS`` overrides it).
UNPACKED = Path("/opt/slurm-wlm-torque/usr/bin")
WRAPPERS = ("qsub", "qstat", "qdel")
#: What the wrappers run from their folder.
SLURM_COMMANDS = ("sbatch", "squeue", "scancel", "scontrol", "salloc", "srun")


def _wrappers() -> Path | None:
    candidates = [Path(os.environ["EMSEQ_TORQUE_WRAPPERS"])] \
        if os.environ.get("EMSEQ_TORQUE_WRAPPERS") else []
    candidates.append(UNPACKED)
    installed = shutil.which("qsub")  # slurm-wlm-torque installed where SGE is not
    if installed:
        candidates.append(Path(installed).parent)
    for folder in candidates:
        qsub = folder / "qsub"
        if qsub.is_file() and b"Slurm" in qsub.read_bytes()[:2000]:
            return folder
    return None


def absent() -> str | None:
    """Why the wrappers cannot run here, or None."""
    if _wrappers() is None:
        return (f"no PBS wrappers of SLURM: slurm-wlm-torque is neither unpacked in {UNPACKED} "
                "nor installed (it conflicts with gridengine-client; .ci/run unpacks it)")
    if subprocess.run(["perl", "-MSlurm", "-e", "1"], capture_output=True).returncode != 0:
        return "the PBS wrappers of SLURM need its Perl module: apt-get install libslurm-perl"
    missing = [name for name in SLURM_COMMANDS if shutil.which(name) is None]
    if missing:
        return f"the PBS wrappers of SLURM need {', '.join(missing)}"
    return None


def wrapper_folder(folder: Path) -> Path:
    """Make ``folder`` hold ``qsub``/``qstat``/``qdel`` and the SLURM commands they call
    (symbolic links); returns it."""
    source = _wrappers()
    assert source is not None, absent()
    folder.mkdir(parents=True, exist_ok=True)
    for name in WRAPPERS:
        (folder / name).symlink_to(source / name)
    for name in SLURM_COMMANDS:
        (folder / name).symlink_to(shutil.which(name))
    return folder

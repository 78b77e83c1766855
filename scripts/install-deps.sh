#!/usr/bin/env bash
# Installs everything genoprot's build and tests need on a fresh Debian 12 machine (as root).
# Idempotent: packages already present are skipped, the venv is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(
  pkg-config clang libclang-dev            # bindgen for the mpi crate
  libhdf5-dev                              # serial HDF5 (hdf5-metno)
  openmpi-bin libopenmpi-dev               # mpirun + mpi crate
  munge slurm-wlm slurm-client slurmd slurmctld
  slurmdbd mariadb-server                  # accounting, so sacct answers (tests/slurm_heal.rs)
  python3-venv procps
  fonts-dejavu-core                        # text in the report's PNG figures (resvg)
  chromium                                 # tests/report.rs opens report.html headless
  mmseqs2                                  # dataset build --cluster (homology-aware splits)
)
bash "$here/scripts/apt-need.sh" install-deps "${pkgs[@]}"

# Python venv for the tests that read what Rust wrote: h5py + numpy (stores),
# pandas + pyarrow (the report's results_long.parquet), scikit-learn (a cell
# refit from its stored training split, tests/refit.rs).
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import h5py, numpy, pandas, pyarrow, sklearn' 2>/dev/null; then
  echo "install-deps: creating $venv with h5py, pandas, pyarrow, scikit-learn"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check h5py numpy pandas pyarrow scikit-learn
fi
echo "install-deps: done"

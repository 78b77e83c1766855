#!/usr/bin/env bash
# Stops the test cluster started by scripts/slurm-up.sh, by its own pid files only.
set -uo pipefail
state=${GENOPROT_SLURM_STATE:-/var/spool/genoprot-slurm}
scancel --user="$(id -un)" 2>/dev/null || true
stop() { # stop NAME PIDFILE
  local pidf=$2 pid
  [ -s "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { echo "slurm-down: $1 ($pid) ignored SIGTERM; killing" >&2; kill -9 "$pid"; }
  fi
  rm -f "$pidf"
  echo "slurm-down: stopped $1"
}
stop slurmd "$state/slurmd.pid"
stop slurmctld "$state/slurmctld.pid"
stop slurmdbd "$state/slurmdbd.pid"
stop mariadbd /run/mysqld/genoprot-mariadb.pid
stop munged /run/munge/munged.pid

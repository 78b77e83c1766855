#!/usr/bin/env bash
# Starts a real single-node Slurm cluster (munge + slurmctld + slurmd) without systemd,
# as root, on a Debian 12 machine where scripts/install-deps.sh ran. Idempotent: if the
# cluster already answers and the node is usable, it does nothing.
#
# Partitions like LLNL: pdebug (default) and pbatch, plus pshort (MaxTime 2 minutes,
# for time-limit tests). Accounting: MariaDB + slurmdbd, so `sacct` answers, unless
# GENOPROT_SLURM_ACCOUNTING=0 or their packages are missing. Every wait has a timeout.
# Recipe: shared/notes/slurm-local.md.
set -euo pipefail

state=${GENOPROT_SLURM_STATE:-/var/spool/genoprot-slurm}
logs=${GENOPROT_SLURM_LOGS:-/var/log/genoprot-slurm}
conf=/etc/slurm/slurm.conf

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "slurm-up: timed out after ${secs}s waiting for $what" >&2
      for f in "$logs"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
      return 1
    fi
    sleep 0.5
  done
}
node_usable() { sinfo -h -N -o '%T' 2>/dev/null | grep -Eqx '(idle|mixed|allocated|completing)'; }

if scontrol ping 2>/dev/null | grep -q 'is UP' && node_usable; then
  echo "slurm-up: cluster already up"; exit 0
fi

for b in munged slurmctld slurmd; do
  [ -x "/usr/sbin/$b" ] || { echo "slurm-up: /usr/sbin/$b missing; run scripts/install-deps.sh first" >&2; exit 1; }
done
mkdir -p "$state/ctld" "$state/d" "$logs"

# 1. munge
install -d -o munge -g munge -m 700 /etc/munge
install -d -o munge -g munge -m 755 /run/munge
install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey -c -f -k /etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid --force
  wait_for 15 "munged" bash -c 'munge -n | unmunge'
fi

# 2. accounting: MariaDB (its own datadir under $state) and slurmdbd
accounting=0
sock=/run/mysqld/mysqld.sock
if [ "${GENOPROT_SLURM_ACCOUNTING:-1}" != 0 ] && [ -x /usr/sbin/slurmdbd ] && [ -x /usr/sbin/mariadbd ]; then
  db="$state/mariadb"
  install -d -o mysql -g mysql /run/mysqld
  if [ ! -d "$db/mysql" ]; then
    install -d -o mysql -g mysql "$db"
    mariadb-install-db --user=mysql --datadir="$db" --skip-test-db >"$logs/mariadb-install.log" 2>&1
  fi
  if ! mariadb-admin --socket="$sock" ping >/dev/null 2>&1; then
    install -o mysql -g mysql -m 640 /dev/null "$logs/mariadb.log"
    # Started by hand (no systemd); stopped by slurm-down.sh through its pid file.
    nohup /usr/sbin/mariadbd --user=mysql --datadir="$db" --socket="$sock" \
      --pid-file=/run/mysqld/genoprot-mariadb.pid --bind-address=127.0.0.1 --port=3306 \
      --log-error="$logs/mariadb.log" >/dev/null 2>&1 &
    wait_for 60 "mariadbd" mariadb-admin --socket="$sock" ping
  fi
  mariadb --socket="$sock" -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'genoprot-test';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  if ! pgrep -x slurmdbd >/dev/null; then
    cat > /etc/slurm/slurmdbd.conf <<CONF
# Written by genoprot scripts/slurm-up.sh: accounting for the test cluster.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$logs/slurmdbd.log
PidFile=$state/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=genoprot-test
CONF
    chmod 600 /etc/slurm/slurmdbd.conf
    /usr/sbin/slurmdbd
  fi
  wait_for 60 "slurmdbd (port 6819)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/6819'
  accounting=1
fi

# 3. slurm.conf (only rewritten while the daemons are down)
if ! pgrep -x slurmctld >/dev/null && ! pgrep -x slurmd >/dev/null; then
  node=$(slurmd -C | head -n1)
  nodename=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$node")
  # Two stand-in GPUs (gres `gpu`, no driver behind them): enough for sbatch
  # to accept --gpus-per-node/--gpus-per-task/--gres and for slurmd to bind
  # them to tasks through CUDA_VISIBLE_DEVICES, which is what genoprot's
  # per-rank device choice reads. Nothing runs on them. slurmd wants character
  # devices: 1,3 and 1,5 (null and zero). Without mknod, no GPUs.
  make_gpus() {
    local i
    for i in 0 1; do
      [ -c "$state/fakegpu$i" ] && continue
      rm -f "$state/fakegpu$i"
      mknod "$state/fakegpu$i" c 1 $((3 + 2 * i)) 2>/dev/null || return 1
    done
  }
  gres_line="" node_gres=""
  if make_gpus; then
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/fakegpu[0-1]\n' "$nodename" "$state" > /etc/slurm/gres.conf
    gres_line="GresTypes=gpu" node_gres="Gres=gpu:2"
  else
    echo "slurm-up: mknod failed: the test cluster has no stand-in GPUs" >&2
    rm -f /etc/slurm/gres.conf
  fi
  if ((accounting)); then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none"
  else
    acct_lines="AccountingStorageType=accounting_storage/none"
  fi
  cat > "$conf" <<CONF
# Written by genoprot scripts/slurm-up.sh: a single-node test cluster.
ClusterName=genoprot
SlurmctldHost=$nodename
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,sched_min_interval=100000,bf_interval=1,batch_sched_delay=0,default_queue_depth=1000
MaxArraySize=100001
MaxJobCount=200000
MinJobAge=86400
JobRequeue=1
ReturnToService=2
KillWait=5
MpiDefault=none
$acct_lines
JobCompType=jobcomp/filetxt
JobCompLoc=$logs/jobcomp.txt
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
$gres_line
$node $node_gres State=UNKNOWN
PartitionName=pdebug Nodes=$nodename Default=YES MaxTime=INFINITE State=UP
PartitionName=pbatch Nodes=$nodename Default=NO MaxTime=INFINITE State=UP
PartitionName=pshort Nodes=$nodename Default=NO MaxTime=00:02:00 State=UP
CONF
  if ((accounting)); then
    sacctmgr -i add cluster genoprot >/dev/null 2>&1 || true
  fi
fi

# 4. slurmctld, then slurmd
if ! pgrep -x slurmctld >/dev/null; then
  /usr/sbin/slurmctld
fi
wait_for 30 "slurmctld (scontrol ping)" bash -c 'scontrol ping | grep -q "is UP"'
if ! pgrep -x slurmd >/dev/null; then
  /usr/sbin/slurmd
fi
wait_for 60 "the node to become idle" node_usable || {
  # A node left DOWN/DRAIN by an earlier run: bring it back once.
  scontrol update nodename="$(sinfo -h -N -o %N | head -n1)" state=resume 2>/dev/null || true
  wait_for 30 "the node to become idle after resume" node_usable
}
echo "slurm-up: cluster up"; sinfo

#!/usr/bin/env bash
# A real single-node Slurm for freight's tests: Debian 12's slurm-wlm + munge, daemons started
# by hand (no systemd), as root. From ../shared/infra/slurm-up.sh, proven on the CI machine.
#
#   bash ci/slurm.sh up       install what is missing, start; a cluster that answers is left alone
#   bash ci/slurm.sh down     stop what `up` started (by pid files)
#   bash ci/slurm.sh status   exit 0 when the controller answers and the node is usable
#
#   WITH_DBD=1   (default) also MariaDB + slurmdbd, so `sacct` works (~7 s more); 0: none
#   SLURM_CPUS   CPUs the node advertises (default 16; more than the cores is allowed through
#                SlurmdParameters=config_overrides: array elements start ~24/s instead of 2/s)
#
# `up` also starts a second, two-node cluster "multi" (nodes n1 and n2: two slurmd on this
# host, own ports and state in $MULTI_DIR, n1 with 2 fake GPUs) for multi-node tests (Ray,
# torchrun); use it with SLURM_CONF=$MULTI_DIR/slurm.conf. From ../shared/infra/slurm-2node.sh.
#
# Not root (a developer machine): prints what to run and exits 0, so the Slurm tests skip with
# a reason; in CI ($CI=true) that is an error.
set -euo pipefail
WITH_DBD=${WITH_DBD:-1}
SLURM_CPUS=${SLURM_CPUS:-16}
CONF=/etc/slurm/slurm.conf
MULTI_DIR=${MULTI_DIR:-/var/lib/freight-ci/slurm-multi}

CI_SCRIPT=slurm.sh CI_TESTS=Slurm
# shellcheck source=ci/lib.sh
. "$(dirname "$0")/lib.sh"

node_ready() {  # the node can run jobs (idle, partly or fully busy, finishing some)
  local state
  state=$(sinfo -h -o %t 2>/dev/null || true)
  [[ $state =~ ^(idle|mix|alloc|comp|plnd)$ ]]
}

accounting_ready() {
  [ "$WITH_DBD" != 1 ] && return 0
  [[ $(sacctmgr -n -P show cluster format=cluster 2>/dev/null || true) == *ci* ]]
}

install_packages() {
  local pkgs=(slurm-wlm slurmctld slurmd slurm-client munge) missing=() pkg
  [ "$WITH_DBD" = 1 ] && pkgs+=(slurmdbd mariadb-server)
  for pkg in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

start_munge() {
  [ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey -c
  install -d -o munge -g munge -m 0755 /run/munge
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
  munge -n | unmunge >/dev/null
}

common_conf() {  # what both clusters' slurm.conf say alike: one host, jobs start at once
  cat <<'EOF'
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
EOF
}

write_slurm_conf() {
  local host mem acct="AccountingStorageType=accounting_storage/none"
  host=$(hostname -s)
  mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [ "$WITH_DBD" = 1 ] && acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1"
  install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/log/slurm
  install -d /var/lib/slurm/slurmd
  cat > "$CONF" <<EOF
ClusterName=ci
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$(common_conf)
${acct}
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
MinJobAge=300
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${SLURM_CPUS} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_dbd() {
  install -d -o mysql -g mysql /run/mysqld
  if ! mariadb-admin ping >/dev/null 2>&1; then
    nohup mariadbd --user=mysql --bind-address=127.0.0.1 >/var/log/mariadbd.out 2>&1 &
    wait_for 100 mariadb-admin ping
  fi
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpass';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat > /etc/slurm/slurmdbd.conf <<'EOF'
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmdbpass
EOF
  chown slurm:slurm /etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf
  pid_running /run/slurmdbd.pid || slurmdbd
  wait_for 100 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6819'
}

wait_for() {  # wait_for TRIES COMMAND...: retry every 0.2 s; false when it never succeeds
  local tries=$1 _
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

gone() { ! kill -0 "$1" 2>/dev/null; }

pid_running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

multi() { SLURM_CONF="$MULTI_DIR/slurm.conf" "$@"; }

multi_ready() {  # both nodes of the two-node cluster can run jobs
  [ "$(multi sinfo -h -N -o %t 2>/dev/null | grep -cE '^(idle|mix|alloc|comp|plnd)$')" = 2 ]
}

write_multi_conf() {
  local host d=$MULTI_DIR i
  host=$(hostname -s)
  install -d -o slurm -g slurm "$d/state" "$d/log"
  install -d "$d/spool" "$d/dev"
  # fake GPUs: character devices; the trailing number becomes the index in CUDA_VISIBLE_DEVICES
  for i in 0 1; do [ -e "$d/dev/nvidia$i" ] || mknod "$d/dev/nvidia$i" c 195 "$i"; done
  cat > "$d/slurm.conf" <<EOF
ClusterName=multi
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=16817
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
$(common_conf)
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.log
GresTypes=gpu
NodeName=n1 NodeHostname=${host} NodeAddr=127.0.0.1 Port=17001 CPUs=2 RealMemory=1000 Gres=gpu:2
NodeName=n2 NodeHostname=${host} NodeAddr=127.0.0.1 Port=17002 CPUs=2 RealMemory=1000
PartitionName=batch Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  echo "NodeName=n1 Name=gpu File=$d/dev/nvidia[0-1]" > "$d/gres.conf"  # read next to slurm.conf
}

up_multi() {
  if multi_ready; then log "the two-node cluster is up already"; return 0; fi
  write_multi_conf
  pid_running "$MULTI_DIR/slurmctld.pid" || multi slurmctld -c
  pid_running "$MULTI_DIR/slurmd-n1.pid" || multi slurmd -N n1
  pid_running "$MULTI_DIR/slurmd-n2.pid" || multi slurmd -N n2
  wait_for 150 multi_ready || { log "the two-node cluster never became idle"; multi sinfo -N >&2; exit 1; }
  log "two-node Slurm is up: SLURM_CONF=$MULTI_DIR/slurm.conf ($(multi sinfo -h -N -o '%N' | tr '\n' ' '))"
}

stop_multi() {
  local pids
  pids=$(cat "$MULTI_DIR"/*.pid 2>/dev/null || true)
  multi scontrol shutdown >/dev/null 2>&1 || true
  for pid in $pids; do wait_for 50 gone "$pid" || true; done
  rm -f "$MULTI_DIR"/*.pid
}

up() {
  need_root up
  if node_ready && accounting_ready; then log "Slurm is up already"; up_multi; return 0; fi
  install_packages
  pid_running /run/slurmctld.pid && stop_slurm
  start_munge
  write_slurm_conf
  [ "$WITH_DBD" = 1 ] && start_dbd
  slurmctld -c  # -c: forget old jobs; both daemons put themselves in the background
  slurmd
  wait_for 150 node_ready || { log "the node never became idle"; sinfo >&2; exit 1; }
  if [ "$WITH_DBD" = 1 ]; then wait_for 50 accounting_ready || { log "sacctmgr never listed cluster ci"; exit 1; }; fi
  log "Slurm is up: $(sinfo -h -o '%P %D node(s) %c CPUs %t')$([ "$WITH_DBD" = 1 ] && echo ', with accounting')"
  up_multi
}

stop_slurm() {
  local pids
  pids=$(cat /run/slurmctld.pid /run/slurmd.pid 2>/dev/null || true)
  scontrol shutdown >/dev/null 2>&1 || true  # slurmctld and every slurmd
  for pid in $pids; do wait_for 50 gone "$pid" || true; done
  rm -f /run/slurmctld.pid /run/slurmd.pid  # stale pid files break `apt-get purge slurmctld`
}

down() {
  need_root down
  stop_multi
  stop_slurm
  if pid_running /run/slurmdbd.pid; then kill "$(cat /run/slurmdbd.pid)"; fi
  rm -f /run/slurmdbd.pid
  if command -v mariadb-admin >/dev/null; then mariadb-admin shutdown >/dev/null 2>&1 || true; fi
  if pid_running /run/munge/munged.pid; then kill "$(cat /run/munge/munged.pid)"; fi
  log "Slurm is down"
}

status() {
  if ! node_ready; then log "Slurm is not up: run 'bash ci/slurm.sh up' as root"; return 1; fi
  sinfo
  scontrol show config | grep -E '^(AccountingStorageType|MaxArraySize) '
  if multi_ready; then multi sinfo -N; else log "the two-node cluster is not up (SLURM_CONF=$MULTI_DIR/slurm.conf)"; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: bash ci/slurm.sh up|down|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real single-host Son of Grid Engine for freight's tests: Debian 12's gridengine-master,
# -exec and -client 8.1.9, daemons started by hand (no systemd), as root. From
# ../shared/infra/sge/ (sge-install.sh, sge-start.sh, sge-stop.sh), proven on the CI machine.
#
#   bash ci/sge.sh up       install what is missing, configure, start; a cluster that answers is
#                           re-configured in place (about 1 s), never restarted needlessly
#   bash ci/sge.sh down     stop qmaster and execd (and the jobs they run)
#   bash ci/sge.sh status   exit 0 when qmaster answers and the queue instance can run jobs
#
#   SGE_SLOTS        slots of all.q (default 16): a short task takes a slot for one scheduler
#                    run (1 s), so throughput is about SGE_SLOTS tasks/s; oversubscribing is fine
#   SGE_ALLOW_ROOT   1 (default): min_uid/min_gid 0, so root may run jobs (CI runs as root)
#
# The cluster: cell default, SGE_ROOT=/var/lib/gridengine, this host admin+submit+exec host,
# queue all.q (shell_start_mode unix_behavior, no load thresholds), parallel environment smp
# ($pe_slots) on all.q, scheduler every 1 s, accounting written at once, login_shells none.
#
# Coexists with ci/slurm.sh on the same machine: gridengine links libmunge2, which Slurm's munge
# also needs; neither script purges it (purging munge silently removes gridengine).
# Not root (a developer machine): prints what to run and exits 0, so the SGE tests skip with a
# reason; in CI ($CI=true) that is an error.
set -euo pipefail
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
COMMON=$SGE_ROOT/$SGE_CELL/common
QMASTER_PID=/var/spool/gridengine/qmaster/qmaster.pid
export SGE_EXECD_PIDFILE=/var/run/gridengine/execd.pid
SLOTS=${SGE_SLOTS:-16}
ALLOW_ROOT=${SGE_ALLOW_ROOT:-1}

CI_SCRIPT=sge.sh CI_TESTS=SGE
# shellcheck source=ci/lib.sh
. "$(dirname "$0")/lib.sh"

# alive = the pid names a live, non-zombie process (PID 1 here may reap late)
alive_pid() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
running() { [ -s "$1" ] && alive_pid "$(cat "$1")"; }
execd_pids() {  # live sge_execd processes, found without a pid file
  local d
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = sge_execd ] && alive_pid "${d#/proc/}" && echo "${d#/proc/}"
  done
  return 0
}
sge_host() { /usr/lib/gridengine/gethostname -name; }

queue_ready() {  # execd has reported load and the queue instance is not in an error state
  local host
  host=$(sge_host 2>/dev/null) || return 1
  qstat -f -q "all.q@$host" 2>/dev/null |
    awk -v q="all.q@$host" '$1==q && $4!="-NA-" && $6 !~ /[uaEdD]/ {ok=1} END{exit !ok}'
}

install_packages() {
  local pkgs=(gridengine-master gridengine-exec gridengine-client) missing=() pkg host
  for pkg in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  host=$(hostname -f 2>/dev/null || hostname)
  local p q
  for p in common master exec client; do
    for q in "gridengineconfig boolean true" "gridenginecell string $SGE_CELL" \
             "gridenginemaster string $host"; do
      echo "gridengine-$p shared/$q"
    done
  done | debconf-set-selections
  # The package scripts must not start the daemons: they would run before the host alias
  # below exists. Docker-style images already have a policy-rc.d that says no.
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  "${APT[@]}" install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null ||
    { "${APT[@]}" update -qq && "${APT[@]}" install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null; }
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# Debian-style /etc/hosts maps the host name to 127.0.x.1, whose reverse lookup is "localhost":
# commlib then refuses every client ("client IP resolved to host name localhost. This is not
# identical to clients host name vm"). SGE's host alias file makes both names one host; it must
# exist before the daemons start, so daemons started without it are stopped (and restarted below).
fix_host_alias() {
  local host ip rev want have p
  host=$(sge_host)
  ip=$(getent ahostsv4 "$host" | awk 'NR==1{print $1}')
  rev=$(/usr/lib/gridengine/gethostbyaddr -name "$ip" 2>/dev/null || true)
  want=""
  [ -n "$rev" ] && [ "$rev" != "$host" ] && want="$host $rev"
  have=$(cat "$COMMON/host_aliases" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    if [ -n "$want" ]; then echo "$want" > "$COMMON/host_aliases"; else rm -f "$COMMON/host_aliases"; fi
    for p in $(cat "$QMASTER_PID" 2>/dev/null) $(execd_pids); do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 1 120); do
      running "$QMASTER_PID" || [ -n "$(execd_pids)" ] || break
      sleep 0.25
    done
    rm -f "$SGE_EXECD_PIDFILE"
  fi
  [ -e "$COMMON/host_aliases" ] && chown sgeadmin:sgeadmin "$COMMON/host_aliases"
  echo "$host" > "$COMMON/act_qmaster"
  chown sgeadmin:sgeadmin "$COMMON/act_qmaster"
  install -d -o sgeadmin -g sgeadmin /var/run/gridengine
}

start_qmaster() {
  running "$QMASTER_PID" || /usr/sbin/sge_qmaster  # daemonizes, drops to user sgeadmin
  for _ in $(seq 1 100); do qconf -sh >/dev/null 2>&1 && return 0; sleep 0.2; done
  qconf -sh >/dev/null
}

# Everything execd reads must be set before it starts: it caches the global configuration.
configure() {
  local host cfg
  host=$(sge_host)
  cfg=$(mktemp -d)
  qconf -sh | grep -qx "$host" || qconf -ah "$host" >/dev/null
  qconf -ss 2>/dev/null | grep -qx "$host" || qconf -as "$host" >/dev/null
  qconf -se "$host" >/dev/null 2>&1 || { exechost_conf "$host" > "$cfg/exechost"; qconf -Ae "$cfg/exechost" >/dev/null; }
  global_conf > "$cfg/global"  # the file name must be the configuration's name
  qconf -Mconf "$cfg/global" >/dev/null
  qconf -ssconf | scheduler_conf > "$cfg/sconf"
  qconf -Msconf "$cfg/sconf" >/dev/null
  pe_conf > "$cfg/smp"
  if qconf -sp smp >/dev/null 2>&1; then qconf -Mp "$cfg/smp" >/dev/null; else qconf -Ap "$cfg/smp" >/dev/null; fi
  queue_conf "$host" > "$cfg/all.q"
  if qconf -sq all.q >/dev/null 2>&1; then qconf -Mq "$cfg/all.q" >/dev/null; else qconf -Aq "$cfg/all.q" >/dev/null; fi
  rm -rf "$cfg"
}

exechost_conf() {
  printf '%-22s %s\n' hostname "$1" load_scaling NONE complex_values NONE user_lists NONE \
    xuser_lists NONE projects NONE xprojects NONE usage_scaling NONE report_variables NONE
}

# login_shells none: jobs do not start through a login shell whose /etc/profile resets PATH.
# min_uid/min_gid 0: root may run jobs. Accounting records written at once (qacct right away).
global_conf() {
  local sed_root=()
  [ "$ALLOW_ROOT" = 1 ] && sed_root=(-e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/')
  qconf -sconf global | grep -v '^#' |
    sed -e '/^reporting_params/,/^[a-z]/{/^reporting_params/!{/^[a-z]/!d}}' |
    sed -e 's/^login_shells .*/login_shells none/' "${sed_root[@]}" \
        -e 's/^reporting_params .*/reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00/'
}

# Schedule every second and right after submits and finishes; no load-based throttling.
scheduler_conf() {
  sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
      -e 's/^flush_submit_sec .*/flush_submit_sec 1/' \
      -e 's/^flush_finish_sec .*/flush_finish_sec 1/' \
      -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' \
      -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/'
}

pe_conf() {  # all of a task's slots on one host, as freight's `-pe smp N` means
  printf '%-18s %s\n' pe_name smp slots 9999 user_lists NONE xuser_lists NONE \
    start_proc_args NONE stop_proc_args NONE allocation_rule '$pe_slots' control_slaves FALSE \
    job_is_first_task TRUE urgency_slots min accounting_summary FALSE qsort_args NONE
}

queue_conf() {  # qconf -Aq needs every attribute
  local limit attrs=(qname all.q hostlist "$1" seq_no 0 load_thresholds NONE
    suspend_thresholds NONE nsuspend 1 suspend_interval 00:05:00 priority 0
    min_cpu_interval 00:05:00 processors UNDEFINED qtype "BATCH INTERACTIVE" ckpt_list NONE
    pe_list smp rerun FALSE slots "$SLOTS" tmpdir /tmp shell /bin/sh prolog NONE epilog NONE
    shell_start_mode unix_behavior starter_method NONE suspend_method NONE resume_method NONE
    terminate_method NONE notify 00:00:60 owner_list NONE user_lists NONE xuser_lists NONE
    subordinate_list NONE complex_values NONE projects NONE xprojects NONE calendar NONE
    initial_state default)
  printf '%-21s %s\n' "${attrs[@]}"
  for limit in rt cpu fsize data stack core rss vmem; do
    printf '%-21s INFINITY\n' "s_$limit" "h_$limit"
  done
}

start_execd() {
  [ -n "$(execd_pids)" ] || /usr/sbin/sge_execd  # daemonizes, drops to user sgeadmin
  for _ in $(seq 1 150); do queue_ready && return 0; sleep 0.2; done
  log "execd did not come up"
  tail -n 20 /var/spool/gridengine/qmaster/messages /var/spool/gridengine/execd/*/messages >&2 || true
  return 1
}

up() {
  need_root up
  install_packages
  fix_host_alias
  start_qmaster
  configure
  start_execd
  log "up: all.q with $SLOTS slots on $(sge_host)"
}

down() {
  need_root down
  command -v qconf >/dev/null || return 0
  local pids="" p still=""
  for p in $(cat "$QMASTER_PID" "$SGE_EXECD_PIDFILE" 2>/dev/null) $(execd_pids); do
    alive_pid "$p" && pids="$pids $p"
  done
  [ -n "$pids" ] || { log "down: nothing running"; return 0; }
  qconf -kej "$(sge_host)" >/dev/null 2>&1 || true  # execd and the jobs it runs
  qconf -km >/dev/null 2>&1 || true                 # qmaster: a controlled shutdown, ~9 s
  for _ in $(seq 1 60); do
    still=""
    for p in $pids; do alive_pid "$p" && still="$still $p"; done
    [ -z "$still" ] && break
    sleep 0.5
  done
  for p in $still; do kill "$p" 2>/dev/null || true; done
  [ -z "$still" ] || { sleep 1; for p in $still; do kill -9 "$p" 2>/dev/null || true; done; }
  rm -f "$SGE_EXECD_PIDFILE"
  log "down"
}

status() {
  if command -v qstat >/dev/null && queue_ready; then
    qstat -f
    return 0
  fi
  log "not running (start it: sudo bash ci/sge.sh up)"
  return 3
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: bash ci/sge.sh up|down|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real one-node Slurm on this machine, for the cluster tests and for trying the Slurm path on a laptop:
# Debian's slurmctld + slurmd + munge, two fake GPUs (typed gres `gpu:fake`, one device file each), no
# accounting daemon (the profile polls with squeue). Daemons are started by hand (no systemd); running it
# again does nothing but check. Needs root and Debian's package archive the first time.
#   bash scripts/slurm_up.sh      # install (first time), configure, start, wait until the node is idle
#   bash scripts/slurm_down.sh    # stop the daemons this started
# The node offers nproc CPUs and MemTotal - 2 GB; partitions `main` (default) and `gpu` (both the node).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
die() { echo "slurm_up: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (it installs Debian packages and starts daemons)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || die "slurmctld/slurmd/munge are missing and there is no apt-get to install them"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 2048 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/slurm-fake-gpu

# munge: one key, its own user, a socket directory it owns
[ -s /etc/munge/munge.key ] || mungekey -c -k /etc/munge/munge.key
chown munge:munge /run/munge /etc/munge/munge.key
chmod 600 /etc/munge/munge.key
munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n >/dev/null 2>&1 || die "munged did not start (see /var/log/munge/munged.log)"

# Two fake GPUs: each needs its own device file (two on /dev/null: "gpu duplicate device file name").
for i in 0 1; do
  [ -c /var/lib/slurm-fake-gpu/gpu$i ] || mknod -m 666 /var/lib/slurm-fake-gpu/gpu$i c 1 3
done

cat > /etc/slurm/slurm.conf.new <<CONF
# written by scripts/slurm_up.sh (the project's one-node test cluster)
ClusterName=mrgen
SlurmctldHost=${HOST}(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=7200
KillWait=30
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobRequeue=1
GresTypes=gpu
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} Gres=gpu:fake:2 Feature=fakegpu State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL Default=NO MaxTime=INFINITE State=UP
CONF
cat > /etc/slurm/gres.conf.new <<CONF
NodeName=${HOST} Name=gpu Type=fake File=/var/lib/slurm-fake-gpu/gpu0
NodeName=${HOST} Name=gpu Type=fake File=/var/lib/slurm-fake-gpu/gpu1
CONF

# Already up with this configuration: nothing to do. A changed configuration restarts the daemons.
if cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf && cmp -s /etc/slurm/gres.conf.new /etc/slurm/gres.conf \
   && scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %T 2>/dev/null | grep -Eqx "idle|mixed|allocated"; then
  rm -f /etc/slurm/slurm.conf.new /etc/slurm/gres.conf.new
  echo "slurm_up: already running: $(sinfo -h -o '%P %D %T %G' | tr '\n' ' ')"
  exit 0
fi
for d in slurmd slurmctld; do                      # running with another configuration: restart
  if pgrep -x $d >/dev/null; then
    pkill -x $d
    for _ in $(seq 50); do pgrep -x $d >/dev/null || break; sleep 0.1; done
  fi
done
mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
mv /etc/slurm/gres.conf.new /etc/slurm/gres.conf

slurmctld -i
slurmd
for _ in $(seq 120); do
  sinfo -h -o %T 2>/dev/null | grep -Eqx "idle|mixed|allocated" && break
  sleep 0.5
done
state=$(sinfo -h -o %T 2>/dev/null | head -1)
case "$state" in
  idle|mixed|allocated) ;;
  *) scontrol update nodename="$HOST" state=resume 2>/dev/null || true; sleep 1
     state=$(sinfo -h -o %T 2>/dev/null | head -1) ;;
esac
[[ "$state" =~ ^(idle|mixed|allocated)$ ]] || die "node is '${state:-unknown}', not idle (see /var/log/slurm/slurmd.log)"
echo "slurm_up: $(sinfo -h -o '%P %D %T %G' | tr '\n' ' ')"

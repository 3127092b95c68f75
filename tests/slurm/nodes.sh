#!/usr/bin/env bash
# hpo on several nodes of a real Slurm: a private cluster of three machines built from Linux
# namespaces on this one, the real multi-node template (slurm/gpu-nodes.sbatch) submitted to it.
#
#   tests/slurm/nodes.sh        (as root; installs Slurm 22.05 from Debian packages if missing)
#
# The cluster: a head (network + UTS namespace: slurmctld, and the bridge every node is wired
# to) and three nodes hpo-n1..3, each a network namespace with a veth pair to that bridge
# (10.77.0.11-13; no traffic leaves the namespaces this test creates), a UTS namespace (its
# own host name), a mount and cgroup namespace (its own cgroup tree, see node.sh), and its own
# slurmd with its own spool, pid, log and TmpFS folders and two fake GPUs. One munged serves
# all (its socket is on the shared file system, like the experiment folder). Slurm tracks job
# processes with proctrack/cgroup and binds tasks with task/affinity, as on a real cluster.
#
# What it checks (gpu-nodes.sbatch with --nodes=3, little memory; 2 workers per node):
#   1. srun --mpi=pmix: every set once; each row's host is one of the nodes, every node has
#      two workers, and they hold different GPUs (0 and 1); cores = the template's
#      --cpus-per-task; the objective saw the same (host, GPU, OMP_NUM_THREADS, job); the
#      master runs on the first node; OpenMPI's ranks reach other nodes over TCP (and their
#      own node over shared memory).
#   2. The same under HPO_LAUNCH=mpirun (OpenMPI's mpirun inside the allocation, orted on
#      every node started through Slurm).
#   3. CPU binding: with --cpus-per-task=1 (this machine has 2 CPUs; the template's 4 per
#      task cannot be bound here), srun --cpu-bind=cores gives the two workers of every node
#      but the first their own CPU; the first node's binding is reported.
#   4. A node fails: SIGKILL to the hpo processes of the last node mid-run. MPI takes the job
#      down (non-zero exit), every row written before stays as it was, no row is torn, no
#      process of the job is left on any node (hpo, orted, objectives and their children),
#      and a resubmission (under mpirun) finishes the experiment, every set exactly once.
# The kernel refusing the namespaces (or veth pairs, mknod) gives a loud SKIP with the
# reason; everything else that goes wrong fails the test. Everything it started is stopped,
# and its namespaces, cgroups and folder removed, on any exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
TEST=slurm-nodes
source tests/slurm/lib.sh

need_root
install_slurm iproute2
build_hpo
# HPO_TEST_PARTS: which of the parts 1-4 to run (all); "hold" keeps the cluster up.
PARTS=${HPO_TEST_PARTS:-1 2 3 4}
part() { [[ " $PARTS " == *" $1 "* ]]; }
command -v mpirun >/dev/null || { skip "no mpirun (OpenMPI) here: hpo's multi-node MPI runs are unchecked"; exit 0; }

N=3
NET=10.77.0                # the bridge's subnet: only inside this test's namespaces
NS=hpo-nodes-$$            # network namespace names: $NS-head, $NS-n1 ...
NAMESPACES=()
NODES=()
for i in $(seq 1 "$N"); do NODES+=("hpo-n$i"); done
CGROUP=""                  # this test's folder in the cgroup v1 freezer hierarchy, if any

make_folder slurm-nodes
mkdir -p "$T/tmp"

# Runs after the jobs are cancelled and the daemons stopped: whatever still runs in this
# test's namespaces (thawed first: a frozen process cannot die), then the namespaces (their
# veth pairs and the bridge go with them) and the cgroup folders.
teardown_more() {
    if [ -n "$CGROUP" ]; then
        find "$CGROUP" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \; 2>/dev/null
    fi
    for ns in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    for ns in "${NAMESPACES[@]}"; do
        for _ in $(seq 1 20); do
            [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
            sleep 0.1
        done
        ip netns del "$ns" 2>/dev/null
    done
    if [ -n "$CGROUP" ]; then
        for _ in $(seq 1 20); do
            find "$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$CGROUP" ] || break
            sleep 0.1
        done
        [ -d "$CGROUP" ] && echo "$TEST: could not remove $CGROUP" >&2
    fi
}

# --- the network: a bridge in the head's namespace, one veth pair per node ------------------
build_network() {
    local head=$NS-head ns
    ip netns add "$head" && NAMESPACES+=("$head") || return 1
    ip -n "$head" link set lo up &&
        ip -n "$head" link add br0 type bridge &&
        ip -n "$head" addr add "$NET.1/24" dev br0 &&
        ip -n "$head" link set br0 up || return 1
    for i in $(seq 1 "$N"); do
        ns=$NS-n$i
        ip netns add "$ns" && NAMESPACES+=("$ns") || return 1
        ip -n "$ns" link set lo up &&
            ip -n "$head" link add "v$i" type veth peer name eth0 netns "$ns" &&
            ip -n "$head" link set "v$i" master br0 &&
            ip -n "$head" link set "v$i" up &&
            ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0 &&
            ip -n "$ns" link set eth0 up || return 1
    done
}
build_network 2>"$T/log/network.log" ||
    cannot_start "the kernel refused a network namespace, veth pair or bridge: $(tail -n 2 "$T/log/network.log" | tr '\n' ' ')"

# Slurm's commands from this script talk to slurmctld in the head's namespace.
in_ns() { # NAMESPACE CMD...
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" -- "$@"
}
for cmd in sbatch squeue scontrol scancel sinfo; do
    eval "$cmd() { in_ns \"\$NS-head\" $(command -v "$cmd") \"\$@\"; }"
done

# --- a cgroup tree per node, when this machine has the v1 freezer hierarchy ------------------
freezer=/sys/fs/cgroup/freezer
if [ -f "$freezer/cgroup.procs" ] && mkdir "$freezer/$NS" 2>/dev/null; then
    CGROUP=$freezer/$NS
    PROCTRACK=proctrack/cgroup
    printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\n' >"$T/etc/cgroup.conf"
else
    PROCTRACK=proctrack/linuxproc
    skip "no cgroup v1 freezer hierarchy here: Slurm tracks processes by parentage (proctrack/linuxproc), and part 4 (a node fails) is not run"
    PARTS=${PARTS//4/}
fi

# --- Slurm ----------------------------------------------------------------------------------
start_munge
make_gpus
[ "$GPUS" = 2 ] || cannot_start "cannot mknod the fake GPU devices"
{
    common_conf
    cat <<EOF
ClusterName=hponodes
SlurmctldHost=hpo-head($NET.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmdSpoolDir=$T/spool/slurmd.%n
SlurmdPidFile=$T/run/slurmd.%n.pid
SlurmdLogFile=$T/log/slurmd.%n.log
TmpFS=$T/tmp/%n
ProctrackType=$PROCTRACK
TaskPlugin=task/affinity
NodeName=DEFAULT CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=16000 Gres=gpu:2 State=UNKNOWN
EOF
    for i in $(seq 1 "$N"); do echo "NodeName=hpo-n$i NodeAddr=$NET.$((10 + i))"; done
    echo "PartitionName=gpu Nodes=hpo-n[1-$N] Default=YES MaxTime=INFINITE State=UP"
} >"$SLURM_CONF"
: >"$T/etc/plugstack.conf"
echo "NodeName=hpo-n[1-$N] Name=gpu File=$T/dev/nvidia[0-1]" >"$T/etc/gres.conf"

in_ns "$NS-head" "$ROOT/tests/slurm/node.sh" hpo-head - slurmctld -c -f "$SLURM_CONF" 2>>"$T/log/start.log" ||
    cannot_start "slurmctld did not start in its namespaces: $(tail -n 2 "$T/log/start.log" | tr '\n' ' ')"
for i in $(seq 1 "$N"); do
    name=hpo-n$i
    mkdir -p "$T/spool/slurmd.$name" "$T/tmp/$name"
    cgroup=-
    if [ -n "$CGROUP" ]; then
        cgroup=$CGROUP/n$i
        mkdir "$cgroup"
    fi
    in_ns "$NS-n$i" "$ROOT/tests/slurm/node.sh" "$name" "$cgroup" slurmd -f "$SLURM_CONF" -N "$name" 2>>"$T/log/start.log" ||
        cannot_start "slurmd of $name did not start in its namespaces: $(tail -n 2 "$T/log/start.log" | tr '\n' ' ')"
done
for i in $(seq 1 60); do
    idle=$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)
    [ "$idle" = "$N" ] && break
    [ "$i" = 60 ] && cannot_start "the nodes did not become idle ($(sinfo -h -N -o '%N %T' 2>&1 | tr '\n' ' '))"
    sleep 0.5
done
say "Slurm $(sinfo --version | awk '{print $2}') up on ${NODES[*]} (controller hpo-head, $PROCTRACK, task/affinity) after $((SECONDS - START)) s"

# --- helpers --------------------------------------------------------------------------------
# The multi-node template on this cluster: N nodes, little memory; everything else as shipped.
sed -e "s/--nodes=4 /--nodes=$N /" -e 's/--mem-per-cpu=[0-9]*G/--mem-per-cpu=100M/' \
    slurm/gpu-nodes.sbatch >"$W/gpu-nodes.sbatch"
CORES=$(sed -n 's/^#SBATCH --cpus-per-task=\([0-9]*\).*/\1/p' slurm/gpu-nodes.sbatch)
WORKERS=$((2 * N))

# An experiment whose objective writes what it was given and where, then sleeps: 1 s for
# the sets below QUICK, LONG_S s (from the job's environment; 1 when unset) for the others.
experiment() { # NAME SETS QUICK
    sed -e "s/@NAME@/$1/" -e "s/@SETS@/$2/" -e "s/@QUICK@/$3/" >"$W/$1.toml" <<'EOF'
[experiment]
dir = "runs/@NAME@"
seed = 7

[objective]
command = ["sh", "-c", "echo \"host=$(hostname) omp=$OMP_NUM_THREADS gpu=$CUDA_VISIBLE_DEVICES job=$SLURM_JOB_ID cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)\" > env.txt; sleep $(( HPO_INDEX < @QUICK@ ? 1 : ${LONG_S:-1} )); echo {x}"]

[[parameters]]
name = "x"
type = "float"

[[sets]]
count = @SETS@
x = { random = [0, 1], round = 4 }

[compute]
provide_worker_path = true
EOF
}

# Submits the template; LAUNCH is srun or mpirun. This machine has 2 CPUs behind the 16 each
# node advertises: mpirun cannot bind 4 cores per rank to CPUs that do not exist, so under
# mpirun the ranks are mapped by slot, unbound (srun's binding is part 3).
nodes_submit() { # NAME LAUNCH [sbatch options...]
    local name=$1 launch=$2
    shift 2
    submit --output="$W/$name-%j.out" "$@" \
        --export=ALL,HPO="$HPO",HPO_HOME="$ROOT",HPO_LAUNCH="$launch",HPO_MPI_MAP=slot,HPO_MPI_BIND=none,HPO_CONTINUE=none,OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"${JOB_ENV:-}" \
        "$W/gpu-nodes.sbatch" "$W/$name.toml"
}

# The placement in results.csv and in what each objective saw (worker_out/NNNNNN/env.txt):
# every row on one of the nodes, every node with two workers holding GPUs 0 and 1, the
# master (rank 0) evaluating none, cores as asked, the objective's host, GPU, threads and job
# those of its row. Prints one line per node: its ranks and their GPUs.
check_placement() { # NAME CORES JOB
    python3 - "$W/runs/$1" "$2" "$3" "${NODES[@]}" <<'EOF' || fail "$1: wrong placement (results.csv above)"
import csv, os, sys, collections
run, cores, job, nodes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rows = list(csv.DictReader(open(os.path.join(run, "results.csv"))))
errors = []
by_rank = collections.defaultdict(set)
for r in rows:
    by_rank[r["rank"]].add((r["host"], r["gpu"], r["cores"]))
    env = open(os.path.join(run, "worker_out", "%06d" % int(r["index"]), "env.txt")).read().split()
    env = dict(kv.split("=", 1) for kv in env)
    want = {"host": r["host"], "omp": r["cores"], "gpu": r["gpu"], "job": job}
    if any(env.get(k) != v for k, v in want.items()):
        errors.append(f"set {r['index']}: the objective saw {env}, its row says {want}")
if "0" in by_rank:
    errors.append("rank 0 (the master) evaluated sets")
per_node = collections.defaultdict(list)
for rank, places in sorted(by_rank.items(), key=lambda kv: int(kv[0])):
    if len(places) != 1:
        errors.append(f"rank {rank} has several (host, gpu, cores): {places}")
    host, gpu, c = sorted(places)[0]
    if host not in nodes:
        errors.append(f"rank {rank} on {host!r}, not one of {nodes}")
    if c != cores:
        errors.append(f"rank {rank}: cores {c}, the template asks {cores}")
    per_node[host].append((rank, gpu))
for node in nodes:
    gpus = sorted(g for _, g in per_node.get(node, []))
    if gpus != ["0", "1"]:
        errors.append(f"{node}: workers' GPUs {gpus}, expected two workers with GPUs 0 and 1")
if errors:
    print(open(os.path.join(run, "results.csv")).read(), file=sys.stderr)
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("; ".join(f"{n}: " + ", ".join(f"rank {r} GPU {g}" for r, g in per_node[n]) for n in nodes))
EOF
}

# The namespace of a process: which of this cluster's machines it runs on.
node_of() { ip netns identify "$1" 2>/dev/null | sed "s/^$NS-//"; }

# Processes of this cluster's nodes other than their slurmd (zombies have no namespace).
leftovers() {
    local i pid daemon
    for i in $(seq 1 "$N"); do
        daemon=$(pids_of "$T/run/slurmd.hpo-n$i.pid")
        for pid in $(ip netns pids "$NS-n$i"); do
            [ "$pid" = "$daemon" ] && continue
            echo "hpo-n$i: $(ps -o pid=,ppid=,args= -p "$pid" 2>/dev/null)"
        done
    done
}

# --- 1. srun --mpi=pmix across the nodes ----------------------------------------------------
if part 1; then
    experiment srun 12 12
    # OpenMPI says which transport each rank uses for each peer (btl verbosity).
    id=$(JOB_ENV=,OMPI_MCA_btl_base_verbose=30 nodes_submit srun srun)
    lock=$W/runs/srun/.lock
    if ! wait_for 60 '{ [ -s "$lock" ] && kill -0 "$(pids_of "$lock")"; } 2>/dev/null || job_ended "$id"' ||
        job_ended "$id"; then
        cat "$W/srun-$id.out" >&2
        fail "srun: job $id ended, or had no master after 60 s"
    fi
    master_node=$(node_of "$(pids_of "$lock")")
    state=$(wait_job "$id" 120) || fail "srun: job $id did not end"
    [ "$state" = COMPLETED ] || { cat "$W/srun-$id.out" >&2; fail "srun: job $id: $state"; }
    [ "$master_node" = n1 ] || fail "srun: the master ran on ${master_node:-no node of this cluster}, not on the first node"
    check_table srun 12
    layout=$(check_placement srun "$CORES" "$id")
    # "[hpo-n2:123] mca: bml: Using tcp btl for send to [[5,6],0] on node hpo-n1": between
    # nodes only TCP, and every node reaches the master's node.
    python3 - "$W/srun-$id.out" "${NODES[@]}" <<'EOF' || fail "srun: OpenMPI's transports between nodes are not TCP (job output: $W/srun-$id.out)"
import re, sys
text, nodes = open(sys.argv[1]).read(), sys.argv[2:]
uses = re.findall(r"\[([\w-]+):\d+\] mca: bml: Using (\w+) btl for send to \[\[\d+,\d+\],\d+\] on node ([\w-]+)", text)
wrong = {(a, btl, b) for a, btl, b in uses if (a != b) != (btl == "tcp")}
to_master = {a for a, btl, b in uses if b == nodes[0] and a != b}
if not uses or wrong or to_master != set(nodes[1:]):
    print(f"transports: {sorted(set(uses))}; wrong: {sorted(wrong)}; nodes reaching {nodes[0]}: {sorted(to_master)}")
    sys.exit(1)
EOF
    say "1. gpu-nodes.sbatch, srun --mpi=pmix on ${N} nodes: 12/12 sets once, master on hpo-n1, $WORKERS workers: $layout; $CORES cores each; TCP between nodes ($((SECONDS - START)) s)"
fi

# --- 2. mpirun inside the allocation --------------------------------------------------------
if part 2; then
    experiment mpirun 12 12
    id=$(nodes_submit mpirun mpirun)
    state=$(wait_job "$id" 120) || fail "mpirun: job $id did not end"
    [ "$state" = COMPLETED ] || { cat "$W/mpirun-$id.out" >&2; fail "mpirun: job $id: $state"; }
    check_table mpirun 12
    layout=$(check_placement mpirun "$CORES" "$id")
    say "2. gpu-nodes.sbatch, HPO_LAUNCH=mpirun on ${N} nodes: 12/12 sets once, $WORKERS workers: $layout; $CORES cores each ($((SECONDS - START)) s)"
fi

# --- 3. CPU binding, one core per worker ----------------------------------------------------
if part 3; then
    experiment bind 12 12
    id=$(nodes_submit bind srun --cpus-per-task=1)
    state=$(wait_job "$id" 120) || fail "bind: job $id did not end"
    [ "$state" = COMPLETED ] || { cat "$W/bind-$id.out" >&2; fail "bind: job $id: $state"; }
    check_table bind 12
    check_placement bind 1 "$id" >/dev/null
    # CPUs each worker's objectives ran on, per node: one CPU each, different CPUs, on every
    # node but the first (the master's extra task leaves task/affinity more tasks than cores
    # there; it then binds none of them: reported, not judged).
    first=$(
        python3 - "$W/runs/bind" "${NODES[@]}" <<'EOF'
import csv, os, sys, collections
run, nodes = sys.argv[1], sys.argv[2:]
cpus = collections.defaultdict(set)
for r in csv.DictReader(open(os.path.join(run, "results.csv"))):
    env = dict(kv.split("=", 1) for kv in open(os.path.join(run, "worker_out", "%06d" % int(r["index"]), "env.txt")).read().split())
    cpus[(r["host"], r["rank"])].add(env["cpus"])
errors = []
for node in nodes[1:]:
    masks = {rank: sorted(c) for (h, rank), c in cpus.items() if h == node}
    single = [m[0] for m in masks.values() if len(m) == 1 and m[0].isdigit()]
    if len(masks) != 2 or len(single) != 2 or single[0] == single[1]:
        errors.append(f"{node}: workers' CPUs {masks}, expected one CPU each, different")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(", ".join(f"rank {rank} on CPUs {'/'.join(sorted(c))}" for (h, rank), c in sorted(cpus.items()) if h == nodes[0]))
EOF
    ) || fail "bind: workers not bound to a CPU each"
    say "3. --cpus-per-task=1, srun --cpu-bind=cores (task/affinity): on hpo-n2..n$N each worker on a CPU of its own, cores=1; on hpo-n1 (master + 2 workers): $first ($((SECONDS - START)) s)"
fi

# --- 4. one node's ranks killed mid-run, then a resubmission --------------------------------
if part 4; then
    experiment kill 24 "$WORKERS"
    id=$(JOB_ENV=,LONG_S=120 nodes_submit kill srun)
    csv=$W/runs/kill/results.csv
    # The first round (1 s each) is done; every worker is now in a 120 s set.
    if ! wait_for 60 '[ "$(rows_of "$csv")" -ge "$WORKERS" ] || job_ended "$id"' || job_ended "$id"; then
        cat "$W/kill-$id.out" >&2
        fail "kill: job $id ended, or did not finish its first round in 60 s"
    fi
    sleep 1
    cp "$csv" "$W/kill-before.csv"
    victims=()
    exe=$(realpath "$HPO")
    # The ranks, not the watcher each worker forks (an hpo process whose parent is the rank).
    for pid in $(ip netns pids "$NS-n$N"); do
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || continue
        parent=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null)
        [ "$(readlink "/proc/$parent/exe" 2>/dev/null)" = "$exe" ] || victims+=("$pid")
    done
    [ "${#victims[@]}" = 2 ] || fail "kill: expected the 2 hpo ranks of hpo-n$N, found ${#victims[@]}"
    kill -KILL "${victims[@]}"
    killed_at=$SECONDS
    state=$(wait_job "$id" 60) || fail "kill: job $id went on after a node's ranks were killed"
    code=$(job_field "$id" ExitCode)
    [ "$code" != 0:0 ] || { cat "$W/kill-$id.out" >&2; fail "kill: job $id exited 0 after a node's ranks were killed"; }
    took=$((SECONDS - killed_at))
    # The job's processes leave every node (Slurm's KillWait is 5 s).
    wait_for 15 '[ -z "$(leftovers)" ]' || { leftovers >&2; fail "kill: processes of job $id left on the nodes"; }
    # Rows written before the kill are still there, byte for byte; no row is torn.
    cmp -s "$W/kill-before.csv" <(head -c "$(stat -c %s "$W/kill-before.csv")" "$csv") ||
        fail "kill: rows written before the kill changed"
    python3 - "$csv" <<'EOF' || fail "kill: results.csv is torn"
import sys
data = open(sys.argv[1]).read()
lines = data.split("\n")
width = lines[0].count(",")
if not data.endswith("\n") or any(l.count(",") != width for l in lines[1:-1]):
    print(repr(data[-300:]))
    sys.exit(1)
EOF
    done1=$(rows_of "$csv")
    say "4a. SIGKILL to hpo-n$N's 2 ranks mid-run: job $state (exit $code) ${took} s later, $done1/24 rows kept intact, no process left on any node"
    id2=$(nodes_submit kill mpirun)
    state=$(wait_job "$id2" 120) || fail "kill: resubmission $id2 did not end"
    [ "$state" = COMPLETED ] || { cat "$W/kill-$id2.out" >&2; fail "kill: resubmission $id2: $state"; }
    ! grep -q "torn line" "$W/kill-$id2.out" || fail "kill: the resumed run found a torn line"
    check_table kill 24
    [ -z "$(leftovers)" ] || { leftovers >&2; fail "kill: processes left on the nodes after the resubmission"; }
    say "4b. resubmission $id2 (HPO_LAUNCH=mpirun) finished it: 24/24 sets, each once ($((SECONDS - START)) s)"
fi

# (debugging: HPO_TEST_PARTS=hold keeps the cluster up for 10 minutes)
if part hold; then
    say "holding: export SLURM_CONF=$SLURM_CONF; the client commands run in the head's namespace: nsenter --net=/run/netns/$NS-head"
    hold
fi

say "all multi-node Slurm checks passed in $((SECONDS - START)) s"

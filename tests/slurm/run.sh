#!/usr/bin/env bash
# hpo against a real Slurm: a one-node cluster (munged + slurmctld + slurmd on loopback, two
# fake GPUs) under a temporary folder, the real templates of slurm/ submitted to it.
#
#   tests/slurm/run.sh          (as root; installs Slurm 22.05 from Debian packages if missing)
#
# What it checks:
#   1. cpu.sbatch, local pool: every set done once, each objective saw OMP_NUM_THREADS =
#      --cpus-per-task and its job id.
#   2. The signal path: `scancel --signal=USR1 --full` mid-run -> hpo stops dispatching, exits
#      75 with nothing lost (cut-off evaluations have no row); a resubmission finishes the
#      experiment, every set exactly once.
#   3. The job's end as deadline, and requeue: a 1-minute job whose sets cannot all finish
#      stops in time by itself (end read from squeue), exits 75, requeues itself
#      (scontrol requeue, the script's last action), Slurm starts it again on its own after
#      the requeue hold (cred_expire + 1 s), and that run completes the table.
#   4. The GPU templates' rank layout (gpu-node.sbatch, gpu-nodes.sbatch), with
#      a stand-in for hpo that reports each task's rank, GPUs and cores.
#   5. The GPU templates with the real hpo over MPI, srun --mpi=pmix and HPO_LAUNCH=mpirun,
#      when hpo has an MPI back end (detected with mpirun -np 2; SKIP otherwise): every set
#      once, ranks 1-2 with their own GPU and cores, rank 0 (the master) evaluating none; and
#      USR1 to every process of an MPI job stops the master only, the running sets finish.
# Parts that cannot run here print SKIP and the reason; the rest still runs. Everything it
# started is stopped and its folder removed on any exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$SECONDS
TEST=slurm-test
source tests/slurm/lib.sh

need_root
install_slurm
# HPO_TEST_BIN: an hpo binary to test instead of building one (cargo build, or --release
# with HPO_TEST_PROFILE=release). HPO_TEST_PARTS: which of the parts 1-5 to run (all).
build_hpo
PARTS=${HPO_TEST_PARTS:-1 2 3 4 5}
part() { [[ " $PARTS " == *" $1 "* ]]; }

# --- a private cluster under a temporary folder, always torn down -------------------------
make_folder slurm-test
start_munge
make_gpus
[ "$GPUS" = 2 ] || skip "cannot mknod fake GPU devices here; GPU layouts are not checked"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
host=$(hostname -s)
ctld_port=$(free_port)
slurmd_port=$(free_port)
gres_node=""
[ "$GPUS" = 2 ] && gres_node="Gres=gpu:2"
{
    common_conf
    cat <<EOF
ClusterName=hpotest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmdSpoolDir=$T/spool/slurmd.%n
SlurmdPidFile=$T/run/slurmd.pid
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=16000 $gres_node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
} >"$SLURM_CONF"
: >"$T/etc/plugstack.conf"
if [ "$GPUS" = 2 ]; then
    echo "NodeName=$host Name=gpu File=$T/dev/nvidia[0-1]" >"$T/etc/gres.conf"
else
    : >"$T/etc/gres.conf"
fi

slurmctld -c -f "$SLURM_CONF" || cannot_start "slurmctld did not start"
slurmd -f "$SLURM_CONF" || cannot_start "slurmd did not start"
for i in $(seq 1 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    [ "$i" = 60 ] && cannot_start "the node did not become idle (state: ${state:-none})"
    sleep 0.5
done
say "Slurm $(sinfo --version | awk '{print $2}') up on $host after $((SECONDS - START)) s"

# --- helpers ------------------------------------------------------------------------------
# The heterogeneous template, small: one node, this partition, little memory.
sed -e 's/--nodes=4 /--nodes=1 /' -e 's/--partition=gpu /--partition=debug /' \
    -e 's/--time=12:00:00/--time=5/' \
    -e 's/--mem-per-cpu=[0-9]*G/--mem-per-cpu=100M/' slurm/gpu-nodes.sbatch >"$W/gpu-nodes.sbatch"

# An experiment whose objective writes what its worker was given, then sleeps.
experiment() { # NAME SETS SLEEP_S
    cat >"$W/$1.toml" <<EOF
[experiment]
dir = "runs/$1"
seed = 7

[objective]
command = ["sh", "-c", "echo \"omp=\$OMP_NUM_THREADS gpu=\$CUDA_VISIBLE_DEVICES job=\$SLURM_JOB_ID\" > env.txt; sleep $3; echo {x}"]

[[parameters]]
name = "x"
type = "float"

[[sets]]
count = $2
x = { random = [0, 1], round = 4 }

[compute]
provide_worker_path = true
EOF
}

if part 1; then
# --- 1. cpu.sbatch on the local pool ------------------------------------------------------
experiment cpu 12 0.2
id=$(submit --partition=debug --time=5 --ntasks=3 --cpus-per-task=2 --mem-per-cpu=100M \
    --output="$W/cpu-%j.out" --export=ALL,HPO="$HPO",HPO_HOME="$ROOT",HPO_CONTINUE=none \
    slurm/cpu.sbatch "$W/cpu.toml")
state=$(wait_job "$id" 120) || fail "cpu job $id did not end"
[ "$state" = COMPLETED ] || { cat "$W/cpu-$id.out" >&2; fail "cpu job $id: $state"; }
check_table cpu 12
bad=$(cat "$W"/runs/cpu/worker_out/*/env.txt | grep -vc "^omp=2 gpu= job=$id$" || true)
[ "$bad" = 0 ] || { cat "$W"/runs/cpu/worker_out/*/env.txt >&2; fail "cpu: $bad set(s) saw the wrong OMP_NUM_THREADS/job"; }
workers=$(python3 -c 'import csv,sys; print(len({r["worker"] for r in csv.DictReader(open(sys.argv[1]))}))' "$W/runs/cpu/results.csv")
[ "$workers" = 2 ] || fail "cpu: expected 2 workers (3 tasks - the master), saw $workers"
say "1. cpu.sbatch (local pool): 12/12 sets once each, 2 workers, OMP_NUM_THREADS=2 ($((SECONDS - START)) s)"

fi

if part 2; then
# --- 2. scancel --signal=USR1 --full mid-run, then a resubmission -------------------------
experiment sig 10 3
id=$(submit --partition=debug --time=5 --ntasks=3 --cpus-per-task=2 --mem-per-cpu=100M \
    --output="$W/sig-%j.out" --export=ALL,HPO="$HPO",HPO_HOME="$ROOT",HPO_CONTINUE=none \
    slurm/cpu.sbatch "$W/sig.toml")
wait_for 60 '[ "$(rows_of "$W/runs/sig/results.csv")" -ge 2 ]' || fail "sig: no results after 60 s"
sleep 1 # the next two sets are running now
scancel --signal=USR1 --full "$id"
state=$(wait_job "$id" 60) || fail "sig job $id did not end"
out=$W/sig-$id.out
code=$(job_field "$id" ExitCode)
[ "$code" = 75:0 ] || { cat "$out" >&2; fail "sig: exit code $code, expected 75:0 (stopped early, resumable)"; }
done1=$(rows_of "$W/runs/sig/results.csv")
[ "$done1" -lt 10 ] || fail "sig: the signal did not stop the run ($done1 rows)"
grep -q "cut off" "$out" && cut=$(grep -o '[0-9]* evaluation(s) were cut off' "$out") || cut="none cut off"
say "2a. USR1 (scancel --full) mid-run: job $state, exit 75, $done1/10 rows, $cut"
id2=$(submit --partition=debug --time=5 --ntasks=3 --cpus-per-task=2 --mem-per-cpu=100M \
    --output="$W/sig-%j.out" --export=ALL,HPO="$HPO",HPO_HOME="$ROOT",HPO_CONTINUE=none \
    slurm/cpu.sbatch "$W/sig.toml")
state=$(wait_job "$id2" 120) || fail "sig resubmission $id2 did not end"
[ "$state" = COMPLETED ] || { cat "$W/sig-$id2.out" >&2; fail "sig resubmission: $state"; }
check_table sig 10
say "2b. resubmission $id2 finished it: 10/10 sets, each once ($((SECONDS - START)) s)"

fi

if part 3; then
# --- 3. the job's end as the deadline, then requeue -------------------------------------
# 1-minute limit: hpo cuts off at the end - 10 s (50 s) and starts no set later than the
# longest duration seen + 5 s before that. Sets 0-3 take 12 s; sets 4 and 5 start at 24 s but
# take 40 s, longer than anything seen: they are cut off at 50 s, not recorded. The requeued
# run (SLURM_RESTART_COUNT=1) finds every set quick and finishes.
experiment end 10 '$(( ${SLURM_RESTART_COUNT:-0} > 0 ? 1 : (HPO_INDEX >= 4 ? 40 : 12) ))'
sed -e '/--signal=/d' slurm/cpu.sbatch >"$W/cpu-nosignal.sbatch"
id=$(submit --partition=debug --time=1 --ntasks=3 --cpus-per-task=2 --mem-per-cpu=100M \
    --output="$W/end-%j.out" --open-mode=append --export=ALL,HPO="$HPO",HPO_HOME="$ROOT",HPO_CONTINUE=requeue \
    "$W/cpu-nosignal.sbatch" "$W/end.toml")
# The job requeues itself (exit 75, `scontrol requeue` as the script's last action). Slurm
# then holds it back for cred_expire + 1 s and starts it again by itself: the test does not
# force the start. (Forcing it, `scontrol update StartTime=now`, races slurmd: a relaunch
# within the second of the requeue's kill finds the job id revoked, "Job N already killed,
# do not launch batch job", and the job FAILS. Real clusters keep the hold as well.)
wait_for 90 'grep -q "requeueing job" "$W/end-$id.out" 2>/dev/null' ||
    { cat "$W"/end-*.out >&2; fail "end: job $id did not requeue itself"; }
done1=$(rows_of "$W/runs/end/results.csv")
wait_for 30 '[ "$(job_field "$id" Restarts)" = 1 ]' || fail "end: job $id was not requeued"
grep -q "Slurm job $id ends in" "$W/end-$id.out" || { cat "$W/end-$id.out" >&2; fail "end: hpo did not read the job's end"; }
grep -q "exit 75" "$W/end-$id.out" || { cat "$W/end-$id.out" >&2; fail "end: hpo did not exit 75"; }
[ "$done1" = 4 ] || { cat "$W/end-$id.out" >&2; fail "end: $done1 rows after the first run, expected 4"; }
grep -q "2 evaluation(s) were cut off" "$W/end-$id.out" || { cat "$W/end-$id.out" >&2; fail "end: the two long sets were not cut off"; }
say "3a. 1-minute job: hpo took its end from squeue, cut 2 running sets off at the deadline (no row), 4/10 rows, exit 75, requeued"
state=$(wait_job "$id" $((CRED_EXPIRE + 90))) || fail "end: requeued job $id did not end"
[ "$state" = COMPLETED ] || { cat "$W/end-$id.out" >&2; fail "end: requeued run: $state"; }
restarts=$(job_field "$id" Restarts)
[ "$restarts" = 1 ] || { cat "$W/end-$id.out" >&2; fail "end: job $id restarted $restarts times, expected once"; }
runs=$(grep -c "Slurm job $id ends in" "$W/end-$id.out")
[ "$runs" = 2 ] || { cat "$W/end-$id.out" >&2; fail "end: hpo ran $runs times in job $id, expected 2"; }
check_table end 10
say "3b. Slurm restarted it by itself; the requeued run completed it: 10/10 sets, each once ($((SECONDS - START)) s)"

fi

if part 4; then
# --- 4. GPU templates: the rank layout, with a stand-in for hpo --------------------------
cat >"$W/standin.sh" <<'EOF'
#!/bin/sh
# Reports what this task was given, instead of running hpo.
cpus=$(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/self/status)
echo "rank=${SLURM_PROCID:-?} node=${SLURMD_NODENAME:-?} gpu=${CUDA_VISIBLE_DEVICES:-none} cpus_per_task=${SLURM_CPUS_PER_TASK:-?} affinity=$cpus" >>"$LAYOUT"
EOF
chmod +x "$W/standin.sh"
if [ "$GPUS" = 2 ]; then
    # (a) one node: 1 master + 2 workers, every task sees the node's 2 GPUs.
    id=$(submit --partition=debug --time=5 --ntasks=3 --cpus-per-task=2 --gres=gpu:2 --mem-per-cpu=100M \
        --output="$W/gpu1-%j.out" --export=ALL,HPO="$W/standin.sh",HPO_HOME="$ROOT",LAYOUT="$W/gpu1.txt" \
        slurm/gpu-node.sbatch "$W/cpu.toml")
    state=$(wait_job "$id" 60) || fail "gpu-node layout job did not end"
    [ "$state" = COMPLETED ] || { cat "$W/gpu1-$id.out" >&2; fail "gpu-node layout job: $state"; }
    sort "$W/gpu1.txt" | sed 's/ affinity=.*//' >"$W/gpu1.sorted"
    printf 'rank=%s node=%s gpu=0,1 cpus_per_task=2\n' 0 "$host" 1 "$host" 2 "$host" |
        diff - "$W/gpu1.sorted" >&2 || fail "gpu-node.sbatch: unexpected layout"
    say "4a. gpu-node.sbatch: ranks 0-2 on one node, each sees GPUs 0,1 (worker i takes element i)"

    # (b) several nodes: master as an extra task on the first node; 2 workers per node.
    id=$(submit --output="$W/gpu2-%j.out" \
        --export=ALL,HPO="$W/standin.sh",HPO_HOME="$ROOT",LAYOUT="$W/gpu2.txt" \
        "$W/gpu-nodes.sbatch" "$W/cpu.toml")
    state=$(wait_job "$id" 60) || fail "gpu-nodes layout job did not end"
    [ "$state" = COMPLETED ] || { cat "$W/gpu2-$id.out" >&2; fail "gpu-nodes layout job: $state"; }
    sort "$W/gpu2.txt" | sed 's/ affinity=.*//' >"$W/gpu2.sorted"
    printf 'rank=%s node=%s gpu=0,1 cpus_per_task=4\n' 0 "$host" 1 "$host" 2 "$host" |
        diff - "$W/gpu2.sorted" >&2 || fail "gpu-nodes.sbatch: unexpected layout"
    say "4b. gpu-nodes.sbatch: rank 0 (master) + 2 workers on the first node, 4 cores per task, GPUs 0,1 visible (worker slot i takes element i)"
    skip "core binding (--cpu-bind=cores) is not checked on this one-node cluster (16 CPUs advertised on $(nproc) real ones, TaskPlugin=task/none); tests/slurm/nodes.sh checks it per node with task/affinity"
fi

fi

if part 5; then
# --- 5. the GPU templates with the real hpo over MPI ------------------------------------
cat >"$W/probe.toml" <<'EOF'
[experiment]
dir = "runs/probe"
seed = 1

[objective]
builtin = "sphere"

[[parameters]]
name = "x"
type = "float"

[[sets]]
count = 4
x = { random = [0, 1] }
EOF
mpi=no
if command -v mpirun >/dev/null; then
    (cd "$W" && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        timeout 60 mpirun --oversubscribe -np 2 "$HPO" run probe.toml -q >"$W/probe.out" 2>&1) || true
    if [ -f "$W/runs/probe/results.csv" ] && python3 - "$W/runs/probe/results.csv" <<'EOF'; then mpi=yes; fi
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
sys.exit(0 if len(rows) == 4 and all(r["rank"] not in ("", None) for r in rows) else 1)
EOF
fi
if [ "$mpi" != yes ]; then
    skip "hpo has no MPI back end yet (mpirun -np 2 hpo run did not give rows with an MPI rank); the MPI templates were checked with a stand-in only"
elif [ "$GPUS" != 2 ]; then
    skip "no fake GPUs: the MPI GPU templates are not run"
else
    # Every set once; ranks 1 and 2 (the master, rank 0, never evaluates) on this node, each
    # its own GPU (worker slot i: element i of the node's list) and CPT cores, which its
    # objective saw as CUDA_VISIBLE_DEVICES and OMP_NUM_THREADS.
    check_mpi() { # NAME N CPT JOB
        check_table "$1" "$2"
        python3 - "$W/runs/$1/results.csv" "$host" "$3" <<'EOF2' || { cat "$W/runs/$1/results.csv" >&2; fail "$1: wrong rank/host/gpu/cores columns"; }
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
host, cores = sys.argv[2], sys.argv[3]
by_rank = {}
for r in rows:
    by_rank.setdefault(r["rank"], set()).add((r["host"], r["gpu"], r["cores"]))
want = {"1": {(host, "0", cores)}, "2": {(host, "1", cores)}}
if by_rank != want:
    print(f"rank -> (host, gpu, cores): {by_rank}, expected {want}")
    sys.exit(1)
EOF2
        bad=$(cat "$W"/runs/"$1"/worker_out/*/env.txt | grep -vc "^omp=$3 gpu=[01] job=$4$" || true)
        [ "$bad" = 0 ] || { cat "$W"/runs/"$1"/worker_out/*/env.txt >&2; fail "$1: $bad set(s) without one GPU, OMP_NUM_THREADS=$3 and job $4"; }
    }
    mpi_submit() { # NAME LAUNCH TEMPLATE [sbatch options...]
        local name=$1 launch=$2 template=$3
        shift 3
        submit --output="$W/$name-%j.out" "$@" \
            --export=ALL,HPO="$HPO",HPO_HOME="$ROOT",HPO_LAUNCH="$launch",HPO_MPI_BIND="$MPI_BIND",HPO_MPI_MAP="${MPI_MAP:-}",OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1${MPI_ENV:-} \
            "$template" "$W/$name.toml"
    }
    mpi_run() { # NAME LAUNCH TEMPLATE CPT [sbatch options...]
        local name=$1 launch=$2 template=$3 cpt=$4 id state
        shift 4
        experiment "$name" 8 0.3
        id=$(mpi_submit "$name" "$launch" "$template" "$@")
        state=$(wait_job "$id" 120) || fail "$name: job $id did not end"
        [ "$state" = COMPLETED ] || { cat "$W/$name-$id.out" >&2; fail "$name: job $id: $state"; }
        check_mpi "$name" 8 "$cpt" "$id"
    }
    # This node advertises 16 CPUs on $(nproc) real ones: mpirun cannot bind ranks to cores
    # that do not exist unless overloading is allowed, nor map 4 cores per rank at all (5d
    # maps by slot alone, unbound). Otherwise the mpirun lines run as shipped; srun's
    # --cpu-bind is a no-op under task/none. Cores per worker come from SLURM_CPUS_PER_TASK.
    MPI_BIND=core:overload-allowed
    gpu1=(--partition=debug --time=5 --ntasks=3 --cpus-per-task=2 --gres=gpu:2 --mem-per-cpu=100M)
    mpi_run mpi1 srun slurm/gpu-node.sbatch 2 "${gpu1[@]}"
    say "5a. gpu-node.sbatch, hpo over srun --mpi=pmix: 8/8 sets once, ranks 1,2 on $host with GPU 0 / 1 and 2 cores each, master (rank 0) evaluated none"
    mpi_run mpi2 srun "$W/gpu-nodes.sbatch" 4
    say "5b. gpu-nodes.sbatch, hpo over srun --mpi=pmix (master as the extra task): 8/8 sets once, ranks 1,2 with GPU 0 / 1 and 4 cores each"
    mpi_run mpi3 mpirun slurm/gpu-node.sbatch 2 "${gpu1[@]}"
    say "5c. gpu-node.sbatch, HPO_LAUNCH=mpirun (every rank SLURM_LOCALID=0): 8/8 sets once, ranks 1,2 with GPU 0 / 1 and 2 cores each"
    MPI_BIND=none MPI_MAP=slot mpi_run mpi4 mpirun "$W/gpu-nodes.sbatch" 4
    say "5d. gpu-nodes.sbatch, HPO_LAUNCH=mpirun (master as the extra rank): 8/8 sets once, ranks 1,2 with GPU 0 / 1 and 4 cores each"

    # USR1 to every process of the job (scancel --full: the batch script, srun, every rank,
    # every objective): the master stops dispatching, the workers ignore it, so the two
    # running sets finish with a row (none cut off) and the job exits 75. A resubmission
    # under mpirun finishes the rest.
    experiment mpiusr 6 3
    id=$(MPI_ENV=,HPO_CONTINUE=none mpi_submit mpiusr srun slurm/gpu-node.sbatch "${gpu1[@]}")
    wait_for 60 '[ "$(rows_of "$W/runs/mpiusr/results.csv")" -ge 2 ]' || { cat "$W"/mpiusr-*.out >&2; fail "mpiusr: no results after 60 s"; }
    sleep 1 # sets 2 and 3 are running now
    scancel --signal=USR1 --full "$id"
    state=$(wait_job "$id" 60) || fail "mpiusr job $id did not end"
    out=$W/mpiusr-$id.out
    code=$(job_field "$id" ExitCode)
    [ "$code" = 75:0 ] || { cat "$out" >&2; fail "mpiusr: exit code $code, expected 75:0"; }
    done1=$(rows_of "$W/runs/mpiusr/results.csv")
    ! grep -q "evaluation(s) were cut off" "$out" || { cat "$out" >&2; fail "mpiusr: evaluations were cut off: a worker or objective did not ignore USR1"; }
    [ "$done1" -ge 4 ] && [ "$done1" -lt 6 ] || { cat "$out" >&2; fail "mpiusr: $done1/6 rows after USR1, expected the 2 running sets to finish and no new one to start"; }
    id2=$(mpi_submit mpiusr mpirun slurm/gpu-node.sbatch "${gpu1[@]}")
    state=$(wait_job "$id2" 120) || fail "mpiusr resubmission $id2 did not end"
    [ "$state" = COMPLETED ] || { cat "$W/mpiusr-$id2.out" >&2; fail "mpiusr resubmission: $state"; }
    check_table mpiusr 6
    say "5e. USR1 to the whole MPI job: master stopped dispatching, workers and objectives went on, running sets finished ($done1/6 rows, none cut off), exit 75; resumed under mpirun: 6/6 once ($((SECONDS - START)) s)"
fi

fi

# (debugging: HPO_TEST_PARTS=hold keeps the cluster up for 10 minutes; SLURM_CONF=$T/etc/slurm.conf)
if part hold; then say "holding: export SLURM_CONF=$SLURM_CONF"; hold; fi

say "all Slurm checks passed in $((SECONDS - START)) s"

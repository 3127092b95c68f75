# Sourced by the real-Slurm tests (run.sh: one node; nodes.sh: several): install Slurm, build
# hpo, a temporary folder that is always torn down, munge, fake GPUs, and the job helpers.
#
# The sourcing script sets TEST (its name in messages) and may define `teardown_more`, run on
# exit after the jobs are cancelled and the daemons stopped, before the folder is removed.

say() { echo "$TEST: $*"; }
skip() { echo "SKIP: $*"; }
fail() {
    echo "$TEST: FAIL: $*" >&2
    exit 1
}
# The private cluster itself cannot run on this machine (a container without the rights the
# daemons need, say): nothing of hpo was tested, so skip loudly with the daemons' own words.
cannot_start() {
    skip "$* (the private Slurm cluster cannot run here; hpo's Slurm integration is unchecked)"
    tail -n 15 "$T"/log/*.log 2>/dev/null || true
    exit 0
}

# --- Slurm, hpo ---------------------------------------------------------------------------
need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        skip "the Slurm test needs root (it starts munged, slurmctld and slurmd)"
        exit 0
    fi
}

# Slurm and munge, and the Debian PACKAGEs given, from apt when missing.
install_slurm() { # [PACKAGE...]
    local missing=()
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
        ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
        missing+=(slurmctld slurmd slurm-client munge)
    fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]} (Debian packages)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null; }; then
            skip "${missing[*]} not installed and could not be installed (apt-get failed)"
            exit 0
        fi
    fi
}

# HPO: HPO_TEST_BIN (a binary to test), else `cargo build` (--release with
# HPO_TEST_PROFILE=release).
build_hpo() {
    if [ -n "${HPO_TEST_BIN:-}" ]; then
        HPO=$(realpath "$HPO_TEST_BIN")
    else
        local profile=${HPO_TEST_PROFILE:-debug}
        if [ "$profile" = release ]; then
            cargo build --release --quiet
        else
            cargo build --quiet
        fi
        HPO=$ROOT/target/$profile/hpo
    fi
    [ -x "$HPO" ] || fail "no binary at $HPO"
}

# --- the temporary folder, always torn down -----------------------------------------------
# T: the folder (daemons' pid files in $T/run, logs in $T/log, jobs' files in $T/work).
make_folder() {
    T=$(mktemp -d "/tmp/hpo-$1.XXXXXX")
    chmod 755 "$T"
    mkdir -p "$T"/{etc,state,spool,log,run,dev,work,munge/key,munge/run}
    W=$T/work
    export SLURM_CONF=$T/etc/slurm.conf
    trap teardown EXIT
    trap 'exit 130' INT TERM
}

pids_of() { cat "$@" 2>/dev/null | tr -dc '0-9\n' || true; }

# Keeps the cluster up for 10 minutes to experiment with (HPO_TEST_PARTS=hold); Ctrl-C or
# SIGTERM ends it early and tears everything down.
hold() {
    sleep 600 &
    HOLD_PID=$!
    wait "$HOLD_PID"
}

teardown() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$(pids_of "$T"/run/slurmctld.pid)" ]; then
        # Cancel every job of this private cluster and give their processes time to go.
        scancel --quiet --full --signal=KILL --user=root 2>/dev/null
        scancel --quiet --user=root 2>/dev/null
        for _ in $(seq 1 20); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    [ -z "${HOLD_PID:-}" ] || kill "$HOLD_PID" 2>/dev/null
    local daemons=("$T"/run/*.pid "$T"/munge/munged.pid)
    for pid in $(pids_of "${daemons[@]}"); do kill -TERM "$pid" 2>/dev/null; done
    sleep 1
    for pid in $(pids_of "${daemons[@]}"); do kill -KILL "$pid" 2>/dev/null; done
    # Anything still running out of this test's folder (job steps, hpo, objectives).
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        if [[ "$(readlink "$p/cwd" 2>/dev/null)" == "$T"* ]] ||
            { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$T"; then
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    if declare -F teardown_more >/dev/null; then teardown_more; fi
    if [ "$rc" -ne 0 ] && [ -d "$T/log" ]; then
        echo "--- last lines of the Slurm logs ---" >&2
        tail -n 15 "$T"/log/*.log >&2
    fi
    rm -rf "$T"
    say "torn down after $((SECONDS - START)) s (exit $rc)"
    exit "$rc"
}

# --- munge, fake GPUs ---------------------------------------------------------------------
start_munge() {
    chmod 700 "$T/munge/key"
    chmod 755 "$T/munge/run"
    dd if=/dev/urandom of="$T/munge/key/munge.key" bs=1024 count=1 status=none
    chmod 400 "$T/munge/key/munge.key"
    munged --force --socket="$T/munge/run/munge.socket.2" --key-file="$T/munge/key/munge.key" \
        --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/seed" \
        --log-file="$T/log/munged.log" || cannot_start "munged did not start"
}

# Two fake GPUs: character devices (like /dev/null) that gres.conf names. GPUS: 2, or 0 when
# mknod is refused.
make_gpus() {
    GPUS=0
    if mknod "$T/dev/nvidia0" c 1 3 2>/dev/null && mknod "$T/dev/nvidia1" c 1 3 2>/dev/null; then
        GPUS=2
    fi
}

# The slurm.conf lines both clusters share (authentication, state, scheduling, no accounting).
# cred_expire: how long slurmd refuses a job id it was told to kill, and so how long Slurm
# holds a requeued job back before it may start again (default 120 s; one test waits for it).
CRED_EXPIRE=10
common_conf() {
    cat <<EOF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/run/munge.socket.2,cred_expire=$CRED_EXPIRE
CredType=cred/munge
StateSaveLocation=$T/state
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_min_interval=0,sched_interval=1
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
InactiveLimit=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
PlugStackConfig=$T/etc/plugstack.conf
GresTypes=gpu
EOF
}

# --- jobs ---------------------------------------------------------------------------------
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# Whether STATE is one a job ends in; whether job ID has ended.
final_state() {
    case $1 in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE) return 0 ;;
        *) return 1 ;;
    esac
}
job_ended() { final_state "$(job_field "$1" JobState)"; }

# Waits for a job to end; prints its final state. Polls scontrol (sbatch --wait polls slowly
# and says 0 for a job cancelled while pending).
wait_job() {
    local id=$1 limit=${2:-120} state=""
    for _ in $(seq 1 $((limit * 2))); do
        state=$(job_field "$id" JobState)
        if final_state "$state"; then
            echo "$state"
            return 0
        fi
        sleep 0.5
    done
    echo "still ${state:-unknown} after ${limit} s" >&2
    scontrol show job "$id" >&2 || true
    return 1
}

# Polls until `cond` (a shell command) holds, up to `limit` seconds.
wait_for() {
    local limit=$1
    shift
    for _ in $(seq 1 $((limit * 4))); do
        if eval "$@"; then return 0; fi
        sleep 0.25
    done
    return 1
}

submit() { sbatch --parsable --chdir="$W" --export=ALL,HPO="$HPO",HPO_HOME="$ROOT" "$@" | cut -d';' -f1; }

# Every index 0..n-1 exactly once in the experiment's results.csv, all ok.
check_table() { # NAME N
    local csv=$W/runs/$1/results.csv
    [ -f "$csv" ] || fail "$1: no results.csv"
    python3 - "$csv" "$2" <<'EOF' || fail "$1: results table is wrong"
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
n = int(sys.argv[2])
count = collections.Counter(int(r["index"]) for r in rows)
bad = {i: count[i] for i in range(n) if count[i] != 1}
extra = [i for i in count if i >= n]
status = collections.Counter(r["status"] for r in rows)
if bad or extra or status["ok"] != n:
    print(f"indices not exactly once: {bad}, extra: {extra}, statuses: {dict(status)}")
    sys.exit(1)
EOF
}
rows_of() { python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1]))))' "$1" 2>/dev/null || echo 0; }

# Sourced by the hpo sbatch templates: run hpo in the background, pass the job's end warning
# on to hpo's master, and continue the experiment when it stopped early with nothing lost.
#
#   hpo_launch CMD...   runs CMD (the `hpo run ...` line, or `srun ... hpo run ...`), waits
#                       for it through any number of signals, and returns its code. When hpo
#                       says "stopped early" (code 75), the job is requeued as the script's
#                       very last action (an EXIT trap): whatever the template does after
#                       hpo_launch (cleanup) runs first, then `scontrol requeue`, then exit.
#
# Settings (environment, or edit here):
#   EXP_DIR            the experiment folder, when the line passes `--dir "$EXP_DIR"`; the
#                      warning then goes to the master alone (its pid is in $EXP_DIR/.lock,
#                      and rank 0 runs on this, the batch, node), so running evaluations finish.
#   HPO_CONTINUE       requeue (default): `scontrol requeue` this job when hpo exits 75;
#                      none: just exit 75 (resubmit yourself: same command, same folder,
#                      or let the cluster requeue exit code 75 itself: RequeueExit=75).
#   HPO_MAX_REQUEUES   stop requeueing after this many restarts (default 20): a set longer
#                      than the whole time limit must not requeue forever.

hpo_pid=""

# The job's end is near (#SBATCH --signal=B:USR1@SECONDS, or scancel --signal=USR1):
# hpo stops handing out sets; running ones finish, or are cut off at the job's end and run
# again on resume.
hpo_stop() {
    local master=""
    if [ -n "${EXP_DIR:-}" ] && [ -s "$EXP_DIR/.lock" ]; then
        master=$(tr -dc 0-9 < "$EXP_DIR/.lock")
    fi
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        echo "hpo job: end of job announced; telling the master (pid $master) to stop dispatching" >&2
        kill -USR1 "$master"
    elif [ -n "$hpo_pid" ]; then
        # hpo itself (local pool), or srun: srun passes the signal to every task of the step
        # (workers ignore it; an objective killed by it is re-run on resume, not failed).
        echo "hpo job: end of job announced; passing USR1 to pid $hpo_pid" >&2
        kill -USR1 "$hpo_pid" 2>/dev/null || true
    fi
}

hpo_launch() {
    trap hpo_stop USR1
    "$@" &
    hpo_pid=$!
    # `wait` returns early whenever a trapped signal arrives: wait until hpo is really gone.
    while kill -0 "$hpo_pid" 2>/dev/null; do
        wait "$hpo_pid" 2>/dev/null
    done
    wait "$hpo_pid" 2>/dev/null
    local rc=$?
    trap - USR1
    case $rc in
        0) echo "hpo job: the experiment is complete" >&2 ;;
        75)
            echo "hpo job: hpo stopped before the job's end with nothing lost (exit 75)" >&2
            if [ "${HPO_CONTINUE:-requeue}" = requeue ]; then
                if [ "${SLURM_RESTART_COUNT:-0}" -lt "${HPO_MAX_REQUEUES:-20}" ]; then
                    trap hpo_requeue EXIT
                else
                    echo "hpo job: requeued ${SLURM_RESTART_COUNT} times already; not again" >&2
                fi
            fi
            ;;
        *) echo "hpo job: hpo failed (exit $rc); see above" >&2 ;;
    esac
    return "$rc"
}

# The script's last action after hpo exited 75: put the job back in the queue. Slurm ends
# this (old) run of the script, and starts the job again from the top once it may (it holds
# a requeued job back for AuthInfo's cred_expire + 1 s, 121 s by default); hpo resumes the
# folder, on whatever allocation. Needs #SBATCH --requeue (or JobRequeue=1).
hpo_requeue() {
    local rc=$?
    trap - EXIT
    echo "hpo job: requeueing job $SLURM_JOB_ID to continue" >&2
    if ! scontrol requeue "$SLURM_JOB_ID"; then
        echo "hpo job: scontrol requeue failed (is the job requeueable? #SBATCH --requeue); resubmit to continue" >&2
    fi
    exit "$rc"
}

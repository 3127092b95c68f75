#!/bin/sh
# One machine of the multi-node test's private cluster (tests/slurm/nodes.sh): run inside the
# machine's network namespace, it gives CMD a host name of its own and, when CGROUP is given,
# a cgroup tree of its own, then becomes CMD (slurmctld or slurmd).
#
#   nsenter --net=/run/netns/NS tests/slurm/node.sh NAME CGROUP|- CMD...
#
# CGROUP: a folder of the host's cgroup v1 freezer hierarchy that this machine's processes
# live in. In a cgroup namespace rooted there, the machine mounts its own freezer hierarchy
# on /sys/fs/cgroup (in a mount namespace of its own, so the host's mounts are untouched):
# slurmd's proctrack/cgroup then tracks every process of a job step on this machine, also
# those that lost their parent, as on a real node.
set -eu
name=$1
cgroup=$2
shift 2
if [ "${NODE_INSIDE:-}" != 1 ]; then
    # Enter the cgroup first: the new cgroup namespace is rooted where unshare stands.
    [ "$cgroup" = - ] || echo $$ >"$cgroup/cgroup.procs"
    NODE_INSIDE=1 exec unshare --uts --mount --cgroup --propagation private "$0" "$name" "$cgroup" "$@"
fi
unset NODE_INSIDE
hostname "$name"
if [ "$cgroup" != - ]; then
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    mkdir /sys/fs/cgroup/freezer
    mount -t cgroup -o freezer freezer /sys/fs/cgroup/freezer
fi
exec "$@"

"""Peak resident memory of this process image.

`resource.getrusage(RUSAGE_SELF).ru_maxrss` survives exec on Linux: a program started by a
larger one reports its parent's size. `VmHWM` belongs to this image alone.
"""


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")

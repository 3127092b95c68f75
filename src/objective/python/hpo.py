"""hpo: what a Python objective may ask about the set it is evaluating.

hpo hands this module to the interpreter that runs the objective (nothing to install):
`import hpo` inside the objective's file or function.
"""

_index = None
_worker_dir = None
_deadline = None
_in_call = False
_send_report = None


def index():
    """The set's index in the parameter table (its row in parameters.csv)."""
    return _index


def worker_dir():
    """The set's own folder (worker_out/000042/) as a string, or None when the experiment
    provides no worker folders ([compute] provide_worker_path = false)."""
    return _worker_dir


def deadline():
    """When the evaluation must be over (the job's end), in Unix seconds like time.time(), or
    None when there is no deadline. An objective that can stop early should, and return what it
    has."""
    return _deadline


def report(step, value):
    """Reports an intermediate value of the set: `value` (in the experiment's direction, like
    the result; with several objective outputs, of the one [pruning] output names) at `step`, a whole number that grows (an epoch, a number of samples). Every
    report is stored in the experiment's curves.csv. Returns True when the set is to stop (the
    experiment's [pruning] rule judged it): the function should then return at once; whatever
    it returns is ignored, and the set's row is `pruned` with this value as its result.
    Without a [pruning] table it always returns False."""
    if not _in_call or _send_report is None:
        raise RuntimeError("hpo.report() is only available while hpo calls the objective")
    if isinstance(step, bool) or int(step) != step or step < 0:
        raise ValueError("hpo.report: step must be a whole number >= 0, not %r" % (step,))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError("hpo.report: value must be a number, not %r" % (value,)) from None
    return _send_report(int(step), value)

"""hpo: what a Python objective may ask about the set it is evaluating.

hpo hands this module to the interpreter that runs the objective (nothing to install):
`import hpo` inside the objective's file or function.
"""

_index = None
_worker_dir = None
_deadline = None


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

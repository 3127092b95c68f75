"""A target function written for PHS, unchanged: it takes one dict, runs its `hyperpar`
assignments into the module's globals, and returns a number. Standard library only.

    hpo run examples/python/phs_style.toml -p 2
"""
import math


def target_function(parameter):
    # PHS's way: `x = 0.25`, `kind = 'shifted'`, ... one a line, into the globals.
    exec(parameter["hyperpar"], globals(), globals())
    z = (x - 1.5) ** 2 + (y + 0.5) ** 2 + 0.5 * f  # noqa: F821 (defined by the exec above)
    if kind == "shifted":  # noqa: F821
        z += 0.25 * math.cos(3 * x)  # noqa: F821
    if parameter["worker_save_path"]:
        with open(parameter["worker_save_path"] + "z.txt", "w") as out:
            out.write("%r\n" % z)
    return z

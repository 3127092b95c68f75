# hpo's check of a Python objective before any work: does FILE define FUNCTION at its top level?
# It parses FILE and never imports it (importing could take minutes or start a GPU). It prints
# one JSON line and exits 0; anything else means the interpreter could not run it.
import ast
import json
import sys


def defined(body):
    """The names a module's top level binds (inside `if`, `try` and `with` blocks too)."""
    names = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
        for field in ("body", "orelse", "finalbody", "handlers"):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    names += defined(inner)
    return names


def main():
    path, function = sys.argv[1], sys.argv[2]
    verdict = {"python": "%d.%d" % sys.version_info[:2]}
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        verdict["unreadable"] = e.strerror or str(e)
        return verdict
    try:
        tree = ast.parse(source, path)
    except SyntaxError as e:
        verdict["syntax"] = "%s (line %s)" % (e.msg, e.lineno)
        return verdict
    except ValueError as e:
        verdict["syntax"] = str(e)
        return verdict
    names = defined(tree.body)
    async_defs = [n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef)]
    if function in async_defs:
        verdict["async"] = True
    elif function not in names:
        verdict["missing"] = sorted(set(n for n in names if not n.startswith("_")))[:20]
    return verdict


print(json.dumps(main()))

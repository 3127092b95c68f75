# hpo's runner of a Python objective, one per worker: it imports the objective's module once
# (at the first set) and calls its function for every set hpo sends, until hpo closes the
# channel. hpo feeds this program to `python -` and prepends HPO_MODULE_SOURCE, the text of
# the `hpo` module.
#
# Calls and results travel on a private pair of pipes (the file descriptors in argv), one JSON
# object a line, never on stdout. hpo -> runner, one call per set:
#   {"index": N, "params": [[name, value], ...], "worker_dir": str|null, "deadline": float|null,
#    "stdout": path|null, "stderr": path|null}
# runner -> hpo, one answer per call:
#   {"returned": value} | {"raised": "ValueError: ..."} | {"import_failed": "..."}
# and during a call, for each hpo.report(step, value), a question answered on the call pipe:
#   runner -> hpo {"report": {"step": N, "value": number}}; hpo -> runner {"verdict": bool}
# During a call, file descriptors 1 and 2 themselves point at the set's stdout/stderr files
# when hpo gives them, so output from C code lands there too.
import importlib.util
import json
import os
import sys
import time
import traceback
import types

INF = float("inf")
# The name this program's frames carry (it is read from stdin).
RUNNER_FILE = sys._getframe().f_code.co_filename


class Channel:
    """The pipes to and from hpo."""

    def __init__(self, calls_fd, replies_fd):
        for fd in (calls_fd, replies_fd):
            os.set_inheritable(fd, False)
        self._calls = os.fdopen(calls_fd, "rb")
        self._replies = os.fdopen(replies_fd, "wb")

    def receive(self):
        """The next message, or None once hpo closed the channel."""
        line = self._calls.readline()
        return json.loads(line) if line else None

    def send(self, message):
        text = json.dumps(message, allow_nan=False, separators=(",", ":"))
        self._replies.write(text.encode() + b"\n")
        self._replies.flush()

    def report(self, step, value):
        """Sends an intermediate value; True when hpo answers that the set is to stop."""
        self.send({"report": {"step": step, "value": jsonable(value)}})
        answer = self.receive()
        if answer is None:
            # hpo is gone: nothing will read the result either.
            return True
        return bool(answer.get("verdict"))


def jsonable(value):
    """`value` as JSON can hold it: numpy/torch scalars and arrays as numbers and lists,
    non-finite numbers as the strings hpo reads back as numbers, anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (INF, -INF):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return jsonable(tolist())
        except Exception:
            pass
    try:
        return jsonable(float(value))
    except Exception:
        return str(value)


def last_line(error):
    return traceback.format_exception_only(type(error), error)[-1].strip()


def print_error(error):
    """The traceback on stderr (the set's stderr.txt), from the objective's frames on."""
    frames = error.__traceback__
    while frames is not None and frames.tb_frame.f_code.co_filename == RUNNER_FILE:
        frames = frames.tb_next
    traceback.print_exception(type(error), error, frames)


class Output:
    """Points file descriptors 1 and 2 at a set's files during its call, and back after."""

    def __init__(self):
        self.saved = (os.dup(1), os.dup(2))
        self.libc_flush = None
        self.redirected = False

    def flush(self):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        if self.libc_flush is None:
            try:
                import ctypes

                self.libc_flush = ctypes.CDLL(None).fflush
            except Exception:
                self.libc_flush = False
        if self.libc_flush:
            self.libc_flush(None)

    def to(self, stdout, stderr):
        if stdout is None and stderr is None:
            return
        self.flush()
        for fd, path in ((1, stdout), (2, stderr)):
            if path is not None:
                target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                os.dup2(target, fd)
                os.close(target)
        self.redirected = True

    def back(self):
        if self.redirected:
            self.flush()
            os.dup2(self.saved[0], 1)
            os.dup2(self.saved[1], 2)
            self.redirected = False


def load(path, function):
    """The objective: `function` of the module in `path`, imported under its file's name (so
    its `if __name__ == "__main__":` block does not run)."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    objective = getattr(module, function, None)
    if not callable(objective):
        raise TypeError("%s defines no function `%s` once imported" % (path, function))
    return objective


def set_environment(call):
    """The set's variables, for programs the function starts (as a command objective has)."""
    env = os.environ
    env["HPO_INDEX"] = str(call["index"])
    if call["worker_dir"] is not None:
        env["HPO_WORKER_DIR"] = call["worker_dir"]
    elif "HPO_WORKER_DIR" in env:
        del env["HPO_WORKER_DIR"]
    if call["deadline"] is not None:
        env["HPO_TIME_LEFT_S"] = "%.0f" % max(0.0, call["deadline"] - time.time())
    elif "HPO_TIME_LEFT_S" in env:
        del env["HPO_TIME_LEFT_S"]


def argument(call):
    """The function's dict: every parameter, and PHS's `hyperpar` and `worker_save_path`."""
    params = dict(call["params"])
    hyperpar = "\n".join("%s = %r" % item for item in params.items())
    folder = call["worker_dir"]
    params["hyperpar"] = hyperpar
    params["worker_save_path"] = folder + "/" if folder is not None else False
    return params


def main():
    path, function = sys.argv[1], sys.argv[2]
    channel = Channel(int(sys.argv[3]), int(sys.argv[4]))
    # The program came on stdin; the function reads from /dev/null, as a command would.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Modules beside the objective's file import as they would from `python FILE`.
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    hpo = types.ModuleType("hpo", "What a Python objective may ask hpo.")
    exec(compile(HPO_MODULE_SOURCE, "hpo.py", "exec"), hpo.__dict__)  # noqa: F821
    sys.modules["hpo"] = hpo
    hpo._send_report = channel.report
    output = Output()
    objective = None
    while True:
        call = channel.receive()
        if call is None:
            return
        reply = None
        try:
            output.to(call["stdout"], call["stderr"])
            if objective is None:
                try:
                    objective = load(path, function)
                except BaseException as error:
                    print_error(error)
                    reply = {"import_failed": last_line(error)}
                    objective = False
            if objective:
                hpo._index = call["index"]
                hpo._worker_dir = call["worker_dir"]
                hpo._deadline = call["deadline"]
                hpo._in_call = True
                set_environment(call)
                try:
                    reply = {"returned": jsonable(objective(argument(call)))}
                except BaseException as error:
                    print_error(error)
                    reply = {"raised": last_line(error)}
                finally:
                    hpo._in_call = False
        except Exception as error:
            # The runner's own trouble (a set's output file it cannot open): the set fails.
            reply = reply or {"raised": "hpo's Python runner: " + last_line(error)}
        finally:
            output.back()
        channel.send(reply)
        if objective is False:
            # A module that failed to import is not used again: the next set gets a fresh
            # interpreter, which tries the import anew.
            return


main()

"""NExT warm fork server: one forked child per job, each in namespaces of its own.

Trusted code, embedded in the Rust `ProcessSandbox` and started by it once per sandbox
inside the sandbox's namespaces, as root of its own user namespace (an unprivileged
user outside), as the init of its own PID namespace, with the file tree read-only.
It imports little, so that its address space, which every job inherits and which
counts against the job's memory limit, stays small.

Protocol, on fd 3 (a Unix stream socket): every message is a frame (a 4-byte big-endian
length and its bytes, the framing of next_core::sandbox::frame) of a JSON object.
  server -> sandbox  {"event": "ready", "selftest": null | "why it failed"}
  sandbox -> server  {"id": N, "preload": "module name", "source": "..."}  (no descriptors)
  server -> sandbox  {"event": "preloaded", "id": N, "error": null | "why it failed"}
  sandbox -> server  {"id": N, "source": "...", "rlimits": [[res, soft, hard], ...]}
                      with 3 descriptors attached: the job's stdin, stdout, stderr
  server -> sandbox  {"event": "started", "id": N}  with the job's pidfd attached
  server -> sandbox  {"event": "done", "id": N, "code": C | "signal": S,
                      "setup_error": null | "..."}

The server polls its socket and one pidfd per running child (no SIGCHLD handler).
Per job: unshare(CLONE_NEWPID) and fork, so that the child is the init of a fresh PID
namespace (the kernel kills every process it leaves when it ends); the child makes a
mount namespace with a private tmpfs on the work directory and its own /proc, then a
user namespace in which it is `nobody` (an unprivileged uid outside too), drops every
capability, sets the rlimits, moves the pipes to 0, 1, 2, closes everything else and
runs the source as __main__, ending the way the interpreter would.
"""

import atexit
import builtins
import ctypes
import gc
import json
import os
import resource
import select
import socket
import struct
import sys
import types

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
PR_SET_NO_NEW_PRIVS = 38
SYS_PIDFD_OPEN = 434
SYS_CLOSE_RANGE = 436
HEADER = struct.Struct(">I")
MAX_FDS = 8

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
LIBC.unshare.argtypes = [ctypes.c_int]
LIBC.setns.argtypes = [ctypes.c_int, ctypes.c_int]
LIBC.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
LIBC.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong, ctypes.c_ulong]
LIBC.syscall.restype = ctypes.c_long


def check(ret, what):
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def unshare(flags):
    check(LIBC.unshare(flags), "unshare")


def setns(fd, flags):
    check(LIBC.setns(fd, flags), "setns")


def mount(source, target, fstype, flags, data):
    check(LIBC.mount(source.encode(), target.encode(), fstype.encode(), flags,
                     data.encode() if data else None), "mount " + target)


def pidfd_open(pid):
    if hasattr(os, "pidfd_open"):
        return os.pidfd_open(pid)
    fd = LIBC.syscall(SYS_PIDFD_OPEN, ctypes.c_int(pid), ctypes.c_int(0))
    check(fd, "pidfd_open")
    return fd


# Made here, once: a ctypes type made in each child would cost each job a class.
CAP_HEADER = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, pid 0
CAP_NONE = (ctypes.c_uint32 * 6)()
ALL_FDS = ctypes.c_uint(0xFFFFFFFF)
NO_FLAGS = ctypes.c_uint(0)


def drop_capabilities():
    check(LIBC.capset(CAP_HEADER, CAP_NONE), "capset")
    check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")


def close_from(first):
    """Closes every descriptor from `first` on (close_range, or one by one)."""
    if LIBC.syscall(SYS_CLOSE_RANGE, ctypes.c_uint(first), ALL_FDS, NO_FLAGS) < 0:
        os.closerange(first, os.sysconf("SC_OPEN_MAX"))


def write_file(path, text, dir_fd):
    fd = os.open(path, os.O_WRONLY, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


class Server:
    def __init__(self, config):
        self.config = config
        self.workdir = config["workdir"]
        self.ctl = socket.socket(fileno=3)
        self.ctl.setblocking(True)
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.poller = select.poll()
        self.poller.register(self.ctl.fileno(), select.POLLIN)
        self.jobs = {}  # pidfd -> (id, pid, setup-error read end)
        self.inbox = bytearray()
        self.fds = []

    # -- messages ---------------------------------------------------------------------

    def send(self, message, fds=()):
        body = json.dumps(message).encode()
        data = HEADER.pack(len(body)) + body
        ancillary = []
        if fds:
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                          struct.pack("%di" % len(fds), *fds))]
        sent = self.ctl.sendmsg([data], ancillary)
        if sent < len(data):
            self.ctl.sendall(data[sent:])

    def receive(self):
        """Reads what is there; returns False at end of file."""
        space = socket.CMSG_SPACE(MAX_FDS * 4)
        data, ancillary, flags, _ = self.ctl.recvmsg(1 << 16, space)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                count = len(payload) // 4
                self.fds.extend(struct.unpack("%di" % count, payload[:count * 4]))
        if flags & socket.MSG_CTRUNC:
            raise RuntimeError("descriptors were cut")
        if not data:
            return False
        self.inbox += data
        while len(self.inbox) >= HEADER.size:
            (length,) = HEADER.unpack_from(self.inbox)
            if len(self.inbox) < HEADER.size + length:
                break
            body = bytes(self.inbox[HEADER.size:HEADER.size + length])
            del self.inbox[:HEADER.size + length]
            request = json.loads(body)
            if "preload" in request:
                self.preload(request)
                continue
            fds, self.fds = self.fds[:3], self.fds[3:]
            self.start(request, fds)
        return True

    def preload(self, request):
        """Imports a module of trusted source (a harness of the sandbox's user) into
        this process, so that every job forked after finds it in sys.modules."""
        error = None
        name = request["preload"]
        try:
            module = types.ModuleType(name)
            module.__dict__["__builtins__"] = builtins
            code = compile(request["source"], "<%s>" % name, "exec", dont_inherit=True, optimize=2)
            exec(code, module.__dict__)
            sys.modules[name] = module
            gc.collect()
            if hasattr(gc, "freeze"):
                gc.freeze()
        except BaseException as err:  # noqa: BLE001 - reported to the sandbox
            error = "%s: %s" % (type(err).__name__, err)
        self.send({"event": "preloaded", "id": request["id"], "error": error})

    # -- jobs -------------------------------------------------------------------------

    def fork_job(self, request, fds):
        """Forks the job's child as init of a new PID namespace; returns (pid, errors)."""
        errors_r, errors_w = os.pipe()
        unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            setns(self.own_pidns, CLONE_NEWPID)
            os.close(errors_r)
            os.close(errors_w)
            raise
        if pid == 0:
            os.close(errors_r)
            job_child(self, request, fds, errors_w)  # never returns
        setns(self.own_pidns, CLONE_NEWPID)
        os.close(errors_w)
        return pid, errors_r

    def start(self, request, fds):
        try:
            pid, errors_r = self.fork_job(request, fds)
        except OSError as err:
            self.send({"event": "done", "id": request["id"], "code": 127,
                       "setup_error": "fork: %s" % err})
            return
        finally:
            for fd in fds:
                os.close(fd)
        # The pidfd tells this loop when the child ends, and lets the sandbox kill it.
        pidfd = pidfd_open(pid)
        self.jobs[pidfd] = (request["id"], pid, errors_r)
        self.poller.register(pidfd, select.POLLIN)
        self.send({"event": "started", "id": request["id"], "pidfd": True}, [pidfd])

    def reap(self, pidfd):
        job_id, pid, errors_r = self.jobs.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        setup_error = read_all(errors_r)
        message = {"event": "done", "id": job_id, "setup_error": setup_error or None}
        if os.WIFSIGNALED(status):
            message["signal"] = os.WTERMSIG(status)
        else:
            message["code"] = os.WEXITSTATUS(status)
        self.send(message)

    def selftest(self):
        """Runs one empty job through every step; returns None or what failed."""
        null = [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
        request = {"id": 0, "source": "", "rlimits": []}
        try:
            pid, errors_r = self.fork_job(request, null)
        except OSError as err:
            return "fork: %s" % err
        finally:
            for fd in null:
                os.close(fd)
        _, status = os.waitpid(pid, 0)
        setup_error = read_all(errors_r)
        if setup_error:
            return setup_error
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return "the self-test job ended with status %d" % status
        return None

    def serve(self):
        self.send({"event": "ready", "selftest": self.selftest()})
        control = self.ctl.fileno()
        while True:
            for fd, _ in self.poller.poll():
                if fd != control:
                    self.reap(fd)
                elif not self.receive():
                    return


def read_all(fd):
    """What a finished child wrote to its set-up error pipe; closes it."""
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


# -- in the job's child ---------------------------------------------------------------

def job_child(server, request, fds, errors_w):
    """The forked child: set up, then run the job. Never returns."""
    # No collection during set-up: it would only walk (and copy) the server's objects.
    gc.disable()
    try:
        set_up(server, request, fds, errors_w)
    except BaseException as err:  # noqa: BLE001 - everything is reported
        try:
            os.write(errors_w, ("%s: %s" % (type(err).__name__, err)).encode())
        finally:
            os._exit(127)
    run(request["source"], server.workdir)


def set_up(server, request, fds, errors_w):
    config = server.config
    os.setsid()
    # Mounts belong to the server's user namespace: make them before leaving it.
    unshare(CLONE_NEWNS | (CLONE_NEWIPC if config["ipc"] else 0))
    mount("tmpfs", server.workdir, "tmpfs", MS_NOSUID | MS_NODEV, config["workdir_tmpfs"])
    # The job's /proc is read-only; its id maps are written through a writable /proc
    # mounted underneath, reached by a descriptor opened before it is covered.
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    mount("proc", "/proc", "proc", flags, None)
    own = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    mount("proc", "/proc", "proc", flags | MS_RDONLY, None)
    # A user namespace of the job's own: its process limit counts its processes only,
    # and it holds no capability over anything the server owns.
    unshare(CLONE_NEWUSER)
    write_file("setgroups", "deny", own)
    write_file("uid_map", "%d 0 1" % config["job_uid"], own)
    write_file("gid_map", "%d 0 1" % config["job_gid"], own)
    os.close(own)
    drop_capabilities()
    os.chdir(server.workdir)
    source = os.open("main.py", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        data = memoryview(request["source"].encode("utf-8", "surrogatepass"))
        while data:
            data = data[os.write(source, data):]
    finally:
        os.close(source)
    for res, soft, hard in request["rlimits"]:
        resource.setrlimit(res, (soft, hard))
    # The interpreter's own sys.stdin, stdout and stderr were made at start-up on pipes
    # (the server never used them): on the job's pipes now, they are what a cold job
    # gets. The environment is the jobs' already.
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    server.ctl.detach()
    os.close(errors_w)
    close_from(3)


def run(source, workdir):
    """Runs the source as __main__ and ends the way the interpreter would. The source
    recurses as deep as a plain script, and reads and sets its limit as one does,
    though it runs below the server's frames (RecursionLimit, the part joined ahead of
    this file)."""
    code = 1
    try:
        path = os.path.join(workdir, "main.py")
        main = types.ModuleType("__main__")
        main.__dict__.update(__builtins__=builtins, __file__=path, __cached__=None)
        sys.modules["__main__"] = main
        sys.argv[:] = ["main.py"]
        limit = RecursionLimit()
        limit.install()
        gc.enable()
        try:
            program = compile(source, path, "exec")
            limit.enter(harness_depth())
            exec(program, main.__dict__)
            code = 0
        except SystemExit as exit_:
            code = exit_status(exit_)
        except BaseException as err:  # noqa: BLE001 - reported as the interpreter does
            traceback = err.__traceback__
            if traceback is not None and traceback.tb_frame.f_code is run.__code__:
                traceback = traceback.tb_next
            # The hook prints the exception's own traceback: take this frame out.
            err.__traceback__ = traceback
            sys.excepthook(type(err), err, traceback)
            code = 1
        code = finish(code)
    finally:
        os._exit(code)


def exit_status(exit_):
    code = exit_.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        pass
    return 1


def finish(code):
    """What the interpreter does at exit: join threads, run atexit, flush."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:  # noqa: BLE001
            pass
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            if stream is sys.stdout and code == 0:
                code = 120
    return code


def main():
    config = json.loads(sys.argv[1])
    for name in config["preload"]:
        try:
            __import__(name)
        except ImportError:
            pass
    # Done once here rather than in every child: the first compile() of a string makes
    # the interpreter's AST types (about a hundred classes).
    exec(compile("assert [i for i in range(3)] == [0, 1, 2]\n", "<warm-up>", "exec"), {})
    server = Server(config)
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()
    server.serve()


if __name__ == "__main__":
    main()

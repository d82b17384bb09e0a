"""HOL Light processes: one loaded zygote per machine, warm servers forked from it.

Loading HOL Light takes one to three minutes, so the load is paid once per machine. The
zygote is a loaded toplevel whose stdin is a FIFO in a runtime directory shared by every
process on the machine; each client process holds that FIFO open for writing (its lease),
so the zygote reads EOF and exits when the last client is gone. A server is a fork of the
zygote that talks over its own pair of FIFOs; spawning one takes milliseconds, which is
also what a restart after a crash or a hang costs.

A server reads its requests as data, one s-expression per line, interpreted by the
framework's OCaml helper against fixed tables: no text from a model or a trace file is ever
compiled. Only the zygote runs toplevel phrases, and only fixed ones with every
non-alphanumeric byte of their string arguments escaped.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.files import write_atomic

log = logging.getLogger(__name__)

HELPER_ML = Path(__file__).with_name("itp.ml")
DEFAULT_HOL_DIR = Path(os.environ.get("HOLLIGHT_DIR", "/usr/share/hol-light"))
INSTALL_HINT = "install Debian's packages: apt-get install -y hol-light libnum-ocaml-dev"
RESULT_PREFIX = b"@@ITP "
# Shipped by libnum-ocaml-dev, which Debian's hol-light does not pull in.
NUM_INTERFACE = Path("/usr/lib/ocaml/big_int.cmi")


class HolLightError(RuntimeError):
    """HOL Light could not be started or answered something unexpected."""


class HolLightNotInstalled(HolLightError):
    """The hol-light package (or its missing dependency libnum-ocaml-dev) is absent."""


class ServerCrashed(HolLightError):
    """The server process died while answering; it has been replaced by a fresh fork."""


class ServerTimeout(HolLightError):
    """The server did not answer within timeout + grace; it was killed and replaced."""


def ocaml_string_literal(text: str) -> str:
    """An OCaml string literal in which every byte but [A-Za-z0-9 ] is a decimal escape.

    Whatever ``text`` holds, the literal cannot end early, start a comment or a quotation.
    """
    out = ['"']
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if (ch.isascii() and ch.isalnum()) or ch == " " else f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def _directive_path(path: Path) -> str:
    """A path for a toplevel directive, which camlp5 passes on without unescaping."""
    text = str(path)
    if any(c in text for c in '"\\\n') or not text.isprintable():
        raise HolLightError(f"cannot load HOL Light helper from an unusual path: {text!r}")
    return f'"{text}"'


def find_hol_light(hol_dir: Path = DEFAULT_HOL_DIR) -> tuple[Path, Path]:
    """The HOL Light toplevel and its ``hol.ml``, or an error that names the packages."""
    toplevel, hol_ml = hol_dir / "ocaml", hol_dir / "hol.ml"
    if not toplevel.exists() or not hol_ml.exists():
        raise HolLightNotInstalled(f"HOL Light not found in {hol_dir}: {INSTALL_HINT}")
    if not NUM_INTERFACE.exists():
        raise HolLightNotInstalled(
            f"OCaml's num library interfaces ({NUM_INTERFACE}) are missing, so HOL Light would"
            " load an empty logic: " + INSTALL_HINT
        )
    return toplevel, hol_ml


def default_runtime_dir() -> Path:
    """Per user and per version of ``itp.ml``: a zygote loaded with another helper is not reused."""
    base = os.environ.get("ITP_HOL_LIGHT_RUNTIME_DIR")
    if base:
        return Path(base)
    helper = hashlib.sha256(HELPER_ML.read_bytes()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"itp-hol-light-{os.getuid()}-{helper}"


def _process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against pid reuse), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@contextlib.contextmanager
def _flock(path: Path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Zygote:
    """A client's handle on this machine's loaded HOL Light zygote (started if absent)."""

    def __init__(
        self,
        runtime_dir: Path | None = None,
        hol_dir: Path = DEFAULT_HOL_DIR,
        startup_timeout: float = 900.0,
    ) -> None:
        self.runtime_dir = runtime_dir or default_runtime_dir()
        self.hol_dir = hol_dir
        self.startup_timeout = startup_timeout
        self.startup_s: float | None = None  # seconds this client spent loading, if it did
        self._lease: int | None = None
        self._pid: int | None = None
        self._popen: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def control(self) -> Path:
        return self.runtime_dir / "control"

    def connect(self) -> None:
        """Hold a lease on a live zygote, starting one (minutes) if the machine has none."""
        if self._lease is not None and self.alive():
            return
        self._drop_lease()
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        with _flock(self.runtime_dir / "start.lock"):
            if not self._attach():
                self._start()

    def alive(self) -> bool:
        info = self._read_ready()
        return info is not None and _process_start_time(info["pid"]) == info["start_time"]

    def close(self) -> None:
        """Give up this client's lease; the zygote exits when no client holds one."""
        self._drop_lease()
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=0)

    def shutdown(self) -> None:
        """Stop the zygote now, whoever else holds a lease (tests and benchmarks)."""
        info = self._read_ready()
        if info is not None and _process_start_time(info["pid"]) == info["start_time"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info["pid"], signal.SIGKILL)
        self.close()
        if self._popen is not None:
            self._popen.wait(timeout=30)
            self._popen = None

    def _drop_lease(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(OSError):
                os.close(self._lease)
            self._lease = None

    def _read_ready(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.runtime_dir / "ready.json").read_text())
        except (OSError, ValueError):
            return None

    def _attach(self) -> bool:
        info = self._read_ready()
        if info is None or _process_start_time(info["pid"]) != info["start_time"]:
            return False
        try:
            fd = os.open(self.control, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return False
        os.set_blocking(fd, True)
        self._lease, self._pid = fd, info["pid"]
        return True

    def _start(self) -> None:
        toplevel, hol_ml = find_hol_light(self.hol_dir)
        for name in ("control", "ready.json"):
            with contextlib.suppress(FileNotFoundError):
                (self.runtime_dir / name).unlink()
        os.mkfifo(self.control, 0o600)
        read_fd = os.open(self.control, os.O_RDONLY | os.O_NONBLOCK)
        lease = os.open(self.control, os.O_WRONLY)
        os.set_blocking(read_fd, True)
        log_path = self.runtime_dir / "zygote.log"
        boot = (
            '#load "unix.cma";;\n'
            f"#use {_directive_path(HELPER_ML)};;\n"
            'Itp.request "(ping boot)";;\n'
            'print_string "\\n@@ITP boot-done {}\\n";;\n'
        )
        os.write(lease, boot.encode())
        log.info("loading HOL Light (one to three minutes, once per machine)...")
        started = time.monotonic()
        with open(log_path, "wb") as log_file:
            popen = subprocess.Popen(
                [str(toplevel), "-init", str(hol_ml)],
                stdin=read_fd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.runtime_dir,
                start_new_session=True,
            )
        os.close(read_fd)
        self._popen, self._lease = popen, lease
        try:
            pid = self._wait_boot(popen, log_path, started)
        except BaseException:
            popen.kill()
            popen.wait()
            self._drop_lease()
            raise
        self.startup_s = time.monotonic() - started
        start_time = _process_start_time(pid)
        ready = {"pid": pid, "start_time": start_time, "startup_s": self.startup_s}
        write_atomic(self.runtime_dir / "ready.json", json.dumps(ready), durable=False)
        self._pid = pid
        log.info("HOL Light loaded in %.1f s (pid %d)", self.startup_s, pid)

    def _wait_boot(self, popen: subprocess.Popen[bytes], log_path: Path, started: float) -> int:
        deadline = started + self.startup_timeout
        while time.monotonic() < deadline:
            text = log_path.read_bytes()
            for line in text.splitlines():
                if line.startswith(b"@@ITP boot "):
                    answer = json.loads(line[len(b"@@ITP boot ") :])
                    return int(answer["pid"])
                if line.startswith(b"@@ITP boot-done"):
                    raise HolLightError(
                        "HOL Light started but the framework's helper failed to load "
                        f"(is libnum-ocaml-dev installed? {INSTALL_HINT}); log {log_path}:\n"
                        + text[-3000:].decode(errors="replace")
                    )
            if popen.poll() is not None:
                raise HolLightError(
                    f"HOL Light exited with code {popen.returncode} while loading; "
                    f"log {log_path}:\n" + text[-3000:].decode(errors="replace")
                )
            time.sleep(0.25)
        raise HolLightError(
            f"HOL Light did not finish loading within {self.startup_timeout:.0f} s; log {log_path}"
        )

    # -- servers ---------------------------------------------------------------------------

    def spawn(self, timeout: float = 30.0) -> HolLightServer:
        """Fork a warm server from the zygote (milliseconds)."""
        self.connect()
        for attempt in range(2):
            try:
                return self._spawn(timeout)
            except (BrokenPipeError, HolLightError):
                if attempt or self.alive():
                    raise
                log.warning("HOL Light zygote is gone; starting a new one")
                self._drop_lease()
                self.connect()
        raise AssertionError("unreachable")

    def _spawn(self, timeout: float) -> HolLightServer:
        assert self._lease is not None
        servers = self.runtime_dir / "servers"
        servers.mkdir(exist_ok=True)
        with _flock(self.runtime_dir / "spawn.lock"):
            directory = Path(tempfile.mkdtemp(dir=servers))
            try:
                os.mkfifo(directory / "in", 0o600)
                os.mkfifo(directory / "out", 0o600)
                phrase = f"Itp.spawn {ocaml_string_literal(str(directory))};;\n"
                os.write(self._lease, phrase.encode())
                deadline = time.monotonic() + timeout
                write_fd = self._open_writer(directory / "in", deadline)
                read_fd = os.open(directory / "out", os.O_RDONLY | os.O_NONBLOCK)
                server = HolLightServer(self, write_fd, read_fd)
                server.await_ready(deadline)
                return server
            finally:
                shutil.rmtree(directory, ignore_errors=True)

    def _open_writer(self, fifo: Path, deadline: float) -> int:
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
                if time.monotonic() > deadline or not self.alive():
                    raise HolLightError("HOL Light zygote did not fork a server") from e
                time.sleep(0.001)
                continue
            os.set_blocking(fd, True)
            return fd


@dataclass
class Reply:
    """One answer of a server, plus whether the server had to be replaced to give it."""

    data: dict[str, Any]
    restarted: bool = False


class HolLightServer:
    """A warm HOL Light toplevel forked from the zygote; answers one request at a time."""

    grace_s = 2.0

    def __init__(self, zygote: Zygote, write_fd: int, read_fd: int) -> None:
        self.zygote = zygote
        self._write_fd, self._read_fd = write_fd, read_fd
        self._buffer = b""
        self._ids = itertools.count(1)
        self.pid = -1
        self.bytes_sent = 0  # everything this handle ever wrote to a toplevel

    def await_ready(self, deadline: float) -> None:
        """Wait for the child's greeting; before the child opens its end, reads see EOF."""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._read_fd], [], [], 0.05)
            if not ready:
                continue
            chunk = os.read(self._read_fd, 65536)
            if not chunk:
                time.sleep(0.001)
                continue
            self._buffer += chunk
            answer = self._take(b"0")
            if answer is not None:
                self.pid = int(answer["pid"])
                return
        self._close_fds()
        raise HolLightError("forked HOL Light server did not greet in time")

    # -- requests --------------------------------------------------------------------------

    def request(self, body: str, timeout: float) -> Reply:
        """Send ``(<verb> <id> <body>)`` and wait for the framed JSON answer.

        A server found dead before the request is replaced and the request sent to the
        new one (``restarted``). One that dies or hangs while answering is replaced and
        the call raises ServerCrashed or ServerTimeout.
        """
        restarted = False
        if self._hung_up():
            self._replace()
            restarted = True
        if "\n" in body or "\r" in body:
            raise ValueError("a request is one line: it must not contain line breaks")
        rid = str(next(self._ids))
        verb, _, rest = body.partition(" ")
        sexp = f"({verb} {rid} {rest})" if rest else f"({verb} {rid})"
        phrase = (sexp + "\n").encode()
        try:
            self._write(phrase)
        except BrokenPipeError:
            self._replace()
            restarted = True
            self._write(phrase)
        return Reply(self._wait(rid.encode(), timeout + self.grace_s), restarted)

    @contextlib.contextmanager
    def toplevel(self) -> Iterator[None]:
        """Hand the server's stdin back to the OCaml toplevel, for trusted raw phrases."""
        self._write(b"(return)\n")
        self._wait(b"return", 10.0)
        try:
            yield
        finally:
            self._write(b"Itp.serve ();;\n")
            self._wait(b"serve", 10.0)

    def send_raw(self, phrase: str, marker: str, timeout: float) -> dict[str, Any]:
        """In ``toplevel()`` mode: send a trusted OCaml phrase, wait for ``@@ITP <marker>``."""
        self._write(phrase.encode())
        return self._wait(marker.encode(), timeout + self.grace_s)

    def rss_bytes(self) -> int:
        return _rss_bytes(self.pid)

    def kill(self) -> None:
        """Kill the server process (tests use this to simulate a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        self.kill()
        self._close_fds()

    def _write(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        view = memoryview(data)
        while view:
            written = os.write(self._write_fd, view)
            view = view[written:]

    def _wait(self, rid: bytes, limit: float) -> dict[str, Any]:
        deadline = time.monotonic() + limit
        while True:
            answer = self._take(rid)
            if answer is not None:
                return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._replace()
                raise ServerTimeout(f"HOL Light did not answer within {limit:.1f} s; restarted")
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                self._replace()
                raise ServerCrashed("HOL Light server died while answering; restarted")
            self._buffer += chunk

    def _take(self, rid: bytes) -> dict[str, Any] | None:
        """Pop the answer line for ``rid`` from the buffer, dropping anything before it."""
        start = self._buffer.find(RESULT_PREFIX + rid + b" ")
        if start < 0:
            return None
        end = self._buffer.find(b"\n", start)
        if end < 0:
            return None
        line = self._buffer[start + len(RESULT_PREFIX) + len(rid) + 1 : end]
        self._buffer = self._buffer[end + 1 :]
        return json.loads(line)

    def _hung_up(self) -> bool:
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN | select.POLLHUP)
        return any(ev & (select.POLLHUP | select.POLLERR) for _, ev in poller.poll(0))

    def _replace(self) -> None:
        self.close()
        fresh = self.zygote.spawn()
        self._write_fd, self._read_fd, self.pid = fresh._write_fd, fresh._read_fd, fresh.pid
        self._buffer = b""
        log.warning("HOL Light server replaced by a fresh fork (pid %d)", self.pid)

    def _close_fds(self) -> None:
        for fd in (self._write_fd, self._read_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

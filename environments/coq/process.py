"""One ``coqidetop`` process and its XML protocol, over pipes.

``coqidetop.opt -main-channel stdfds`` reads calls (``Init``, ``Add``, ``Status``,
``Edit_at``, ``Goal``, ``Query``) as XML on stdin and answers each with one ``<value>``
element, preceded by any number of ``<feedback>`` elements, on stdout. The document is a
chain of state ids: ``Add`` appends a sentence after a state, ``Status`` (forced) executes
what was added and reports the first error, ``Edit_at`` cuts the chain back to a state.

Every read has a deadline: a process that does not answer in time is killed (its whole
process group, and nothing else) and the caller gets ``CoqTimeout``; one that dies gets
``CoqCrashed``. Either way the object is closed and a fresh one must be started.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast
from xml.sax.saxutils import escape

INSTALL_HINT = "install Debian's package: apt-get install -y coq"
BINARIES = ("coqidetop.opt", "coqidetop")
# Coq's richpp uses the HTML entity &nbsp;, which XML does not define.
_ENTITY = re.compile(r"&nbsp;")
_SPACES = re.compile(r"\s+")


class CoqError(RuntimeError):
    """coqidetop could not be started or answered something unexpected."""


class CoqNotInstalled(CoqError):
    """No ``coqidetop`` binary on PATH."""


class CoqCrashed(CoqError):
    """The process died or closed its output; this object is closed."""


class CoqTimeout(CoqError):
    """No answer within the deadline; the process was killed and this object is closed."""


class SentenceFailed(CoqError):
    """Coq refused a sentence (parse, type or tactic error); the document is back at ``state``."""

    def __init__(self, message: str, state: int) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class CoqGoal:
    """A goal as Coq prints it; ``id`` is its evar number, stable while the document is."""

    id: str
    hypotheses: tuple[str, ...]
    conclusion: str


@dataclass(frozen=True)
class Goals:
    """The proof state: foreground goals in order, and how many are elsewhere."""

    foreground: tuple[CoqGoal, ...]
    background: int
    shelved: int
    given_up: int


def find_coqidetop() -> str:
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    raise CoqNotInstalled(f"coqidetop not found on PATH; {INSTALL_HINT}")


def raw_text(element: ET.Element | None) -> str:
    """The plain text of a richpp element, with Coq's line breaks."""
    if element is None:
        return ""
    return "".join(element.itertext()).replace("\xa0", " ")


def pp_text(element: ET.Element | None) -> str:
    """The plain text of a richpp element, whitespace collapsed (Coq breaks long lines)."""
    return _SPACES.sub(" ", raw_text(element)).strip()


class CoqIdeTop:
    """A warm coqidetop process: one document of sentences, addressed by state id."""

    def __init__(
        self,
        args: Sequence[str] = (),
        memory_limit_mb: int | None = 4096,
        start_timeout: float = 60.0,
    ) -> None:
        binary = find_coqidetop()
        limit = None if memory_limit_mb is None else memory_limit_mb * 1024 * 1024

        def cap_memory() -> None:  # runs in the child: a runaway tactic cannot take the machine
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        # Its own working directory: tactics such as lia write cache files there.
        self._workdir = tempfile.mkdtemp(prefix="coqidetop-")
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [binary, "-main-channel", "stdfds", "-async-proofs", "off", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self._workdir,
            start_new_session=True,  # its own process group: a kill reaches it and nothing else
            preexec_fn=cap_memory,
        )
        self._parser: ET.XMLPullParser = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed("<stream>")
        self._depth = 0
        self._root = ET.Element("stream")
        self._held = ""
        # A multi-byte character may be cut by a read's boundary: decode across reads.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.messages: list[str] = []  # feedback messages printed during the last call
        try:
            value = self._call('<call val="Init"><option val="none"/></call>', start_timeout)
            self.initial_state = _state_id(value)
        except CoqError:
            self.close()  # a process that cannot start must not outlive this object
            raise

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def add(self, sentence: str, state: int, timeout: float) -> int:
        """Append one sentence after ``state`` (not yet executed); its new state id."""
        call = (
            '<call val="Add"><pair><pair><pair><pair>'
            f"<string>{escape(sentence)}</string><int>0</int></pair>"
            f'<pair><state_id val="{state}"/><bool val="false"/></pair></pair>'
            "<int>0</int></pair><pair><int>0</int><int>0</int></pair></pair></call>"
        )
        value = self._call(call, timeout)
        self._raise_if_failed(value, state)
        pair = value.find("pair")
        return _state_id(pair if pair is not None else value)

    def execute(self, timeout: float) -> None:
        """Run every added sentence (``Status`` forced); SentenceFailed at the first error."""
        value = self._call('<call val="Status"><bool val="true"/></call>', timeout)
        self._raise_if_failed(value, None)

    def edit_at(self, state: int, timeout: float) -> None:
        """Cut the document back to ``state``; later states are forgotten."""
        value = self._call(f'<call val="Edit_at"><state_id val="{state}"/></call>', timeout)
        self._raise_if_failed(value, state)

    def goals(self, timeout: float) -> Goals | None:
        """The current proof state, or None outside a proof."""
        value = self._call('<call val="Goal"><unit/></call>', timeout)
        self._raise_if_failed(value, None)
        option = value.find("option")
        if option is None or option.get("val") != "some":
            return None
        lists = option.findall("goals/list")
        if len(lists) != 4:
            raise CoqError(f"unexpected Goal answer: {ET.tostring(value)[:300]!r}")
        foreground = tuple(_goal(g) for g in lists[0].findall("goal"))
        # Background goals come as a list of (before, after) pairs of goal lists.
        background = len(lists[1].findall(".//goal"))
        return Goals(
            foreground, background, len(lists[2].findall("goal")), len(lists[3].findall("goal"))
        )

    def query(self, text: str, state: int, timeout: float) -> list[str]:
        """Run a query command at ``state`` (``Print Assumptions x.``); the messages it printed."""
        call = (
            '<call val="Query"><pair><route_id val="0"/><pair>'
            f'<string>{escape(text)}</string><state_id val="{state}"/></pair></pair></call>'
        )
        value = self._call(call, timeout)
        self._raise_if_failed(value, state)
        return self.messages

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        shutil.rmtree(self._workdir, ignore_errors=True)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        proc.wait()

    def __enter__(self) -> CoqIdeTop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raise_if_failed(self, value: ET.Element, state: int | None) -> None:
        if value.get("val") == "good":
            return
        good = value.find("state_id")
        back = int(good.get("val", "0")) if good is not None else 0
        if back == 0:  # Coq's dummy state (an Add that did not parse): still at ``state``
            back = state or 0
        raise SentenceFailed(pp_text(value.find("richpp")) or "Coq reported a failure", back)

    def _call(self, xml: str, timeout: float) -> ET.Element:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise CoqCrashed("the coqidetop process is closed")
        self.messages = []  # the feedback messages of this call only
        try:
            proc.stdin.write(xml.encode("utf-8"))
            proc.stdin.flush()
        except OSError as e:
            self.close()
            raise CoqCrashed(f"coqidetop closed its input: {e}") from e
        return self._read_value(time.monotonic() + timeout, timeout)

    def _read_value(self, deadline: float, timeout: float) -> ET.Element:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while True:
            for pair in self._parser.read_events():
                event, element = cast(tuple[str, ET.Element], pair)  # start/end: elements
                if event == "start":
                    if self._depth == 0:
                        self._root = element
                    self._depth += 1
                    continue
                self._depth -= 1
                if self._depth != 1:  # not a direct child of the stream's root
                    continue
                self._root.remove(element)  # the stream never ends: keep it from growing
                if element.tag == "value":
                    return element
                if element.tag == "feedback":
                    message = element.find("feedback_content/message")
                    if message is not None:
                        self.messages.append(raw_text(message.find("richpp")))
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise CoqTimeout(f"coqidetop gave no answer within {timeout:.1f} s (killed)")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                code = proc.poll()
                self.close()
                raise CoqCrashed(f"coqidetop exited (status {code})")
            self._feed(self._decoder.decode(chunk))

    def _feed(self, text: str) -> None:
        """Feed the parser, holding back an entity cut by the chunk boundary."""
        text = self._held + text
        cut = text.rfind("&")
        if cut != -1 and ";" not in text[cut:]:
            text, self._held = text[:cut], text[cut:]
        else:
            self._held = ""
        self._parser.feed(_ENTITY.sub("&#160;", text))


def _state_id(element: ET.Element) -> int:
    sid = element.find("state_id")
    if sid is None:
        raise CoqError(f"no state id in coqidetop's answer: {ET.tostring(element)[:300]!r}")
    return int(sid.get("val", "0"))


def _goal(element: ET.Element) -> CoqGoal:
    gid = element.find("string")
    hyps = element.find("list")
    return CoqGoal(
        id=gid.text or "" if gid is not None else "",
        hypotheses=tuple(pp_text(h) for h in (hyps if hyps is not None else [])),
        conclusion=pp_text(element.find("richpp")),
    )

"""Fringe search (TacticZero): choose a set of open goals that together prove the root.

A *fringe* is a set of open goals whose proofs, together, prove the root. The search starts from
{root}. Expanding goal g of fringe F turns every open tactic of g into a successor fringe,
F - {g} + (the tactic's open subgoals); F itself is then used up. A fringe's score is the sum of
its goals' critic values (log space, so a product of probabilities), and the search takes the
best fringe (a heap) or samples one from softmax(score / temperature) (a sum tree).

The proof tree is a DAG shared by all fringes, so a goal can sit in many fringes. When a fringe
chooses a goal another fringe already had expanded, its successors are built from the goal's
existing tactics without calling the prover (a *virtual expansion*) and the search chooses
again. A goal that gets proved leaves every fringe holding it (their scores rise); a goal that
fails kills them; a fringe built on a tactic of a goal that was then proved by another tactic
is dropped as stale. Fringes are deduplicated by goal set with Zobrist hashes (XOR of a random
64-bit word per goal), kept current as proved goals leave, and indexed by goal, so each of these
updates touches only the fringes concerned.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable
from typing import NamedTuple

from data.proof_tree import Edge, InternalNode, Status
from models.end_to_end.search_models.base import (
    Display,
    SearchModel,
    check_field,
    check_number,
    is_expandable,
)
from models.end_to_end.search_models.updown import TRACE_IDS, GoalValues, expansion_complete

_OPEN = Status.OPEN
_PROVED = Status.PROVED
_FAILED = Status.FAILED
_NEG_INF = -math.inf

_LIVE, _USED, _DEAD = 0, 1, 2
_STATES = ("live", "used", "dead")

_MAX_EXPONENT = 700.0
"""Largest (score - reference) / temperature a sampling weight may have before the reference
is moved up (exp overflows near 709)."""

SELECTIONS = ("greedy", "sample")
GOAL_CHOICES = ("first", "best", "random")


def _ids(held: int | set[int] | tuple[()]) -> Iterable[int]:
    """The fringe ids of a ``holding`` entry."""
    return (held,) if type(held) is int else held  # type: ignore[return-value]


class FringeView(NamedTuple):
    """One fringe as the search holds it: its open goals' node ids, score and state."""

    id: int
    goals: tuple[int, ...]
    score: float
    state: str  # live, used (a goal of it was expanded) or dead (failed, stale, a duplicate)


class _SumTree:
    """Non-negative weights over slots 0, 1, ...: O(log n) update and proportional draw.

    Each inner node is recomputed as the sum of its two children (never by adding deltas), so
    a slot set to 0 is never drawn, however many updates came before.
    """

    def __init__(self) -> None:
        self._cap = 1
        self._t = [0.0, 0.0]

    def total(self) -> float:
        return self._t[1]

    def set(self, slot: int, weight: float) -> None:
        if slot >= self._cap:
            self._grow(slot)
        t = self._t
        j = slot + self._cap
        t[j] = weight
        j >>= 1
        while j:
            t[j] = t[2 * j] + t[2 * j + 1]
            j >>= 1

    def assign(self, weights: Iterable[tuple[int, float]]) -> None:
        """Set many slots (all others 0) in O(capacity)."""
        cap = self._cap
        t = [0.0] * (2 * cap)
        for slot, weight in weights:
            t[slot + cap] = weight
        for j in range(cap - 1, 0, -1):
            t[j] = t[2 * j] + t[2 * j + 1]
        self._t = t

    def draw(self, u: float) -> int:
        """The slot whose cumulative weight interval holds ``u`` (0 <= u < total)."""
        t, cap = self._t, self._cap
        j = 1
        while j < cap:
            j <<= 1
            left = t[j]
            if u >= left and t[j + 1] > 0.0:
                u -= left
                j += 1
        return j - cap

    def _grow(self, slot: int) -> None:
        cap = self._cap
        while cap <= slot:
            cap *= 2
        old, old_cap = self._t, self._cap
        self._cap = cap
        self.assign((i, old[old_cap + i]) for i in range(old_cap))


class Fringe(SearchModel):
    """Best-first (``selection: greedy``) or sampled (``sample``) search over fringes.

    ``temperature`` divides fringe scores before the softmax (sampling only). ``goal_choice``
    picks the goal of a chosen fringe: ``first`` (TacticZero: the oldest goal), ``best`` (the
    highest critic value) or ``random``. ``seed`` seeds the draws of each attempt.
    """

    uses_goal_model = True
    display = Display(
        node_scores={"critic": "the goal model's log-probability that the goal is provable"},
        step_nodes={"fringe": f"open goals of the chosen fringe (first {TRACE_IDS})"},
    )

    def __init__(
        self,
        selection: str = "greedy",
        temperature: float = 1.0,
        goal_choice: str = "first",
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_field(selection, "selection", SELECTIONS.__contains__, f"must be one of {SELECTIONS}")
        check_number(temperature, "temperature", lambda x: x > 0, "must be > 0")
        check_field(
            goal_choice, "goal_choice", GOAL_CHOICES.__contains__, f"must be one of {GOAL_CHOICES}"
        )
        check_field(
            seed,
            "seed",
            lambda x: isinstance(x, int) and not isinstance(x, bool),
            "must be an integer",
        )
        self.selection = selection
        self.temperature = float(temperature)
        self.goal_choice = goal_choice
        self.seed = seed
        self._sampling = selection == "sample"
        self._root: InternalNode | None = None
        self._clear()

    def _clear(self) -> None:
        self._rng = random.Random(self.seed)
        self._zobrist = random.Random(self.seed + 1)
        self._critic = GoalValues("critic")
        self._z: dict[int, int] = {}  # goal id -> its random 64-bit word
        self._status: dict[int, Status] = {}  # goal id -> status the fringes reflect
        # Fringes, by id (made in order): goals (proved ones leave lazily), score and hash of
        # the open goals, state.
        self._goals: list[tuple[InternalNode, ...]] = []
        self._score: list[float] = []
        self._hash: list[int] = []
        self._state: list[int] = []
        self._kids: dict[int, list[int]] = {}  # fringe -> the fringes made from it
        self._shrunk: set[int] = set()  # live fringes holding a goal proved since made
        self._by_hash: dict[int, int] = {}  # goal set -> the fringe that holds it
        # goal id -> the live fringes holding it: one id, or a set of two or more (most goals
        # are in one fringe, and a set per goal would cost more than the rest of a fringe)
        self._holding: dict[int, int | set[int]] = {}
        # goal id -> (fringe, tactic) for the fringes made by its tactics
        self._made_by: dict[int, list[tuple[int, Edge]]] = {}
        self._live_count = 0
        self._live: set[int] = set()  # sampling: the live fringes (to reweigh them)
        # Greedy: a max-heap of (-score, token, fringe); an entry is current while its token is.
        self._heap: list[tuple[float, int, int]] = []
        self._token: list[int] = []
        self._tokens = 0
        # Sampling: weights exp((score - reference) / temperature), reference <= 0.
        self._weights = _SumTree()
        self._reference = 0.0
        # Expansions: goals handed out; those not yet expanded, with the fringes that chose them
        # (statuses are checked and successors made once the expansion is complete).
        self._handed: set[int] = set()
        self._awaiting: dict[int, tuple[InternalNode, list[int]]] = {}
        self.virtual_expansions = 0
        self.rebuilt = 0

    # The interface.

    def reset(self, root: InternalNode) -> None:
        self._start_trace()
        self._clear()
        self._root = root
        self._critic.add(root)

    def get_goal(self) -> tuple[InternalNode, float] | None:
        selected = self.get_goals(1)
        return selected[0] if selected else None

    def get_goals(self, n: int) -> list[tuple[InternalNode, float]]:
        """Up to ``n`` goals, each of the best (or a sampled) fringe, scored with its fringe."""
        root = self._root
        if root is None:
            raise RuntimeError("Fringe.get_goals: call reset(root) first")
        self._update()
        out: list[tuple[InternalNode, float]] = []
        awaiting = self._awaiting
        virtual = 0
        rebuilt = False
        while len(out) < n and root.status is _OPEN:
            fid = self._choose()
            if fid is None:
                if out or awaiting or rebuilt:
                    break
                rebuilt = True
                fid = self._rebuild()
                if fid is None:
                    break
            goals = self._open_goals(fid)
            score = self._score[fid]
            self._use(fid)
            if not goals:
                continue  # all proved: the root is too (not reached while it is open)
            goal = self._pick(goals)
            gid = goal.id
            if gid in awaiting:  # handed out, not yet expanded: successors once it is
                awaiting[gid][1].append(fid)
                continue
            if gid in self._handed or not is_expandable(goal):
                self._successors(fid, goal)  # expanded before: no prover call
                virtual += 1
                self.virtual_expansions += 1
                continue
            self._handed.add(gid)
            awaiting[gid] = (goal, [fid])
            self._record_select(
                goal,
                score,
                frontier=self._live_count,
                fringe=[g.id for g in goals[:TRACE_IDS]],
                fringe_size=len(goals),
                fringe_id=fid,
                virtual=virtual,
            )
            virtual = 0
            out.append((goal, score))
        return out

    def process_response(self, edge: Edge) -> None:
        """Record the edge; its subgoals are taken in with the whole expansion, at the next
        get_goals (all of the goal's tactics are in the tree by then)."""
        if self._root is None:
            raise RuntimeError("Fringe.process_response: call reset(root) first")
        self._record_response(edge, [d.id for d in edge.dst if d.status is _OPEN])

    # Reading the fringes (tests, analysis).

    def fringes(self) -> list[FringeView]:
        """Every fringe made so far, in order, brought up to date (as get_goals does first); a
        live one lists its open goals only."""
        self._update()
        views = []
        for fid, goals in enumerate(self._goals):
            if self._state[fid] == _LIVE:
                goals = self._open_goals(fid)
            views.append(
                FringeView(
                    fid, tuple(g.id for g in goals), self._score[fid], _STATES[self._state[fid]]
                )
            )
        return views

    def draw(self) -> int | None:
        """The id of the fringe the next selection would take (greedy) or a draw of it
        (sample), without using it up; None if no fringe is live."""
        self._update()
        if self._sampling:
            return self._choose()
        heap, token = self._heap, self._token
        while heap and token[heap[0][2]] != heap[0][1]:
            heapq.heappop(heap)  # stale
        return heap[0][2] if heap else None

    # Keeping fringes current.

    def _update(self) -> None:
        """Value the goals met since the last step (one call), apply status changes, then make
        the successors of the fringes whose goal was expanded."""
        awaiting = self._awaiting
        done = [entry for entry in awaiting.values() if expansion_complete(entry[0])]
        for goal, _ in done:
            self._critic.add_subgoals(goal)
        z, status = self._z, self._status
        for node in self._critic.fetch(self.values):
            z[node.id] = self._zobrist.getrandbits(64)
            status[node.id] = node.status
        if not self._goals:
            root = self._root
            assert root is not None
            if root.id in self._critic.value:
                self._add((root,), self._critic.value[root.id], z[root.id], None, None, None)
        if done:
            self._apply_status([goal for goal, _ in done])
            for goal, fids in done:
                del awaiting[goal.id]
                for fid in fids:
                    self._successors(fid, goal)

    def _apply_status(self, seeds: list[InternalNode]) -> None:
        """Walk up from the goals just expanded while statuses changed (statuses change only
        there and above): a goal's status changes once, so this costs O(tree) per attempt."""
        status = self._status
        stack = seeds
        while stack:
            node = stack.pop()
            now = node.status
            before = status.get(node.id)
            if now is before or before is None:  # unchanged, or never met (not in a fringe)
                continue
            status[node.id] = now
            if now is _PROVED:
                self._proved(node)
            else:
                self._failed(node)
            stack.extend(e.src for e in node.in_edges)

    def _proved(self, goal: InternalNode) -> None:
        gid = goal.id
        value, word = self._critic.value[gid], self._z[gid]
        by_hash = self._by_hash
        for fid in _ids(self._holding.pop(gid, ())):
            old = self._hash[fid]
            if by_hash.get(old) == fid:
                del by_hash[old]
            new = old ^ word
            self._hash[fid] = new
            self._shrunk.add(fid)
            if value == _NEG_INF:
                self._score[fid] = self._sum(self._goals[fid])
            else:
                self._score[fid] -= value
            if new in by_hash:
                self._kill(fid)  # now equal to another fringe
            else:
                by_hash[new] = fid
                self._list(fid)  # its score rose
        for fid, via in self._made_by.pop(gid, ()):
            if via.status is not _PROVED:
                self._kill_tree(fid)  # proved by another tactic: this one is not needed

    def _failed(self, goal: InternalNode) -> None:
        for fid in _ids(self._holding.pop(goal.id, ())):
            self._kill(fid)
        self._made_by.pop(goal.id, None)

    def _sum(self, goals: tuple[InternalNode, ...]) -> float:
        """Score of the goals the fringes still hold (status as applied so far)."""
        value, status = self._critic.value, self._status
        return sum(value[g.id] for g in goals if status[g.id] is not _PROVED)

    def _successors(self, fid: int, goal: InternalNode) -> None:
        """The fringes made from fringe ``fid`` by the tactics of ``goal``, one of its goals."""
        if self._state[fid] == _DEAD:
            return
        value, z = self._critic.value, self._z
        base: list[InternalNode] = []  # the fringe's other open goals
        score, h = 0.0, 0
        for g in self._goals[fid]:
            if g is goal:
                continue
            st = g.status
            if st is _PROVED:
                continue
            if st is _FAILED:
                return
            base.append(g)
            score += value[g.id]
            h ^= z[g.id]
        st = goal.status
        if st is _FAILED:
            return
        kids = self._kids_of(fid)
        if st is _PROVED:
            self._add(tuple(base), score, h, None, kids, None)
            return
        made = self._made_by.get(goal.id)
        if made is None:
            made = self._made_by[goal.id] = []
        held = {g.id for g in base} if base else ()
        for e in goal.out_edges:
            new: list[InternalNode] = []
            for d in e.dst:
                st = d.status
                if st is _OPEN:
                    if d.id not in held:
                        new.append(d)  # type: ignore[arg-type]
                elif st is _FAILED:
                    break  # a failed tactic (an error, or a subgoal that failed)
            else:
                s, hh = score, h
                for d in new:
                    s += value[d.id]
                    hh ^= z[d.id]
                self._add((*base, *new), s, hh, e, kids, made)

    def _add(
        self,
        goals: tuple[InternalNode, ...],
        score: float,
        h: int,
        via: Edge | None,
        kids: list[int] | None,
        made: list[tuple[int, Edge]] | None,
    ) -> int | None:
        """A new live fringe, unless one with the same goals was made before; ``kids`` is
        its parent's list of fringes made from it, ``made`` the list of fringes made by the
        tactics of the goal it replaced."""
        by_hash = self._by_hash
        if h in by_hash:
            return None
        fid = len(self._goals)
        by_hash[h] = fid
        self._goals.append(goals)
        self._score.append(score)
        self._hash.append(h)
        self._state.append(_LIVE)
        holding = self._holding
        for g in goals:
            held = holding.get(g.id)
            if held is None:
                holding[g.id] = fid
            elif type(held) is int:
                holding[g.id] = {held, fid}
            else:
                held.add(fid)  # type: ignore[union-attr]
        if made is not None:
            assert via is not None
            made.append((fid, via))
        if kids is not None:
            kids.append(fid)
        self._live_count += 1
        if self._sampling:
            self._live.add(fid)
            self._token.append(-1)
            self._list(fid)
        else:
            self._tokens += 1
            self._token.append(self._tokens)
            heapq.heappush(self._heap, (-score, self._tokens, fid))
        return fid

    def _kids_of(self, fid: int) -> list[int]:
        kids = self._kids.get(fid)
        if kids is None:
            kids = self._kids[fid] = []
        return kids

    def _open_goals(self, fid: int) -> tuple[InternalNode, ...]:
        """The fringe's goals less the proved ones (which leave lazily, here)."""
        goals = self._goals[fid]
        if fid in self._shrunk:
            self._shrunk.discard(fid)
            goals = tuple(g for g in goals if g.status is not _PROVED)
            self._goals[fid] = goals
        return goals

    def _use(self, fid: int) -> None:
        """A goal of the fringe is being expanded: its successors replace it."""
        self._drop(fid)
        self._state[fid] = _USED

    def _kill(self, fid: int) -> None:
        self._drop(fid)
        self._state[fid] = _DEAD

    def _kill_tree(self, fid: int) -> None:
        """Kill a stale fringe and every fringe made from it; their goal sets may be made
        again by another route."""
        stack = [fid]
        by_hash = self._by_hash
        while stack:
            f = stack.pop()
            self._kill(f)
            if by_hash.get(self._hash[f]) == f:
                del by_hash[self._hash[f]]
            kids = self._kids.get(f)
            if kids is not None:
                stack.extend(kids)

    def _drop(self, fid: int) -> None:
        """Take a live fringe out of the index and of selection."""
        if self._state[fid] != _LIVE:
            return
        holding = self._holding
        for g in self._goals[fid]:
            held = holding.get(g.id)
            if held == fid:
                del holding[g.id]
            elif type(held) is set:
                held.discard(fid)
        self._live_count -= 1
        if self._sampling:
            self._live.discard(fid)
            self._weights.set(fid, 0.0)
        else:
            self._token[fid] = -1

    def _rebuild(self) -> int | None:
        """A fringe along the first open tactic of every expanded goal from the root, when none
        is live but the root is open (a stale fringe can take a deduplicated goal set with it).
        Costs the goals reached; None if no unexpanded goal is reachable that way."""
        root = self._root
        assert root is not None
        value, z = self._critic.value, self._z
        leaves: list[InternalNode] = []
        seen = {root.id}
        stack = [root]
        while stack:
            node = stack.pop()
            if node.status is not _OPEN:
                continue
            if is_expandable(node) and node.id not in self._handed:
                leaves.append(node)
                continue
            for e in node.out_edges:
                if e.status is _OPEN:
                    for d in reversed(e.dst):
                        if d.id not in seen and isinstance(d, InternalNode):
                            seen.add(d.id)
                            stack.append(d)
                    break
        if not leaves:
            return None
        h = 0
        for g in leaves:
            h ^= z[g.id]
        self._by_hash.pop(h, None)
        self.rebuilt += 1
        return self._add(tuple(leaves), sum(value[g.id] for g in leaves), h, None, None, None)

    # Selection.

    def _list(self, fid: int) -> None:
        """Offer a live fringe to selection with its current score."""
        if self._sampling:
            exponent = (self._score[fid] - self._reference) / self.temperature
            if exponent > _MAX_EXPONENT:
                self._reference = self._score[fid]
                self._reweigh()
            else:
                self._weights.set(fid, math.exp(exponent))
        else:
            self._tokens += 1
            self._token[fid] = self._tokens
            heapq.heappush(self._heap, (-self._score[fid], self._tokens, fid))

    def _reweigh(self) -> None:
        """Every live weight against the current reference: O(fringes), when scores drift by
        hundreds of temperatures."""
        reference, temperature, score = self._reference, self.temperature, self._score
        self._weights.assign(
            (f, math.exp((score[f] - reference) / temperature)) for f in self._live
        )

    def _choose(self) -> int | None:
        """Take the best live fringe off the heap (greedy), or draw one (sampling)."""
        if not self._sampling:
            heap, token = self._heap, self._token
            while heap:
                _, tok, fid = heapq.heappop(heap)
                if token[fid] == tok:
                    token[fid] = -1
                    return fid
            return None
        if not self._live:
            return None
        weights = self._weights
        if not weights.total() > 0.0:
            # Every weight underflowed: measure them from the best score instead.
            best = max(self._score[f] for f in self._live)
            if best == _NEG_INF:
                return self._rng.choice(sorted(self._live))
            self._reference = best
            self._reweigh()
        return weights.draw(self._rng.random() * weights.total())

    def _pick(self, goals: tuple[InternalNode, ...]) -> InternalNode:
        if self.goal_choice == "first" or len(goals) == 1:
            return goals[0]
        if self.goal_choice == "best":
            value = self._critic.value
            return max(goals, key=lambda g: value[g.id])
        return self._rng.choice(goals)

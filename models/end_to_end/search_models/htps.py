"""HyperTree Proof Search (Lample et al., 2022): PUCT over hypertrees, values backed up as products.

A node of the search is one goal. A simulation descends from the root: at an expanded goal it
takes the tactic with the best PUCT score and goes into *all* of that tactic's subgoals (AND),
so it selects a hypertree whose leaves are unexpanded goals. The prover expands the leaves; once
every leaf is done the simulation is backed up: a leaf is worth its critic (the goal model's
value, computed once per goal), 1 if proved, 0 if failed; a goal is worth the product of its
chosen tactic's subgoals (times ``depth_penalty``); each chosen tactic gets N += 1 and W += value.
Values live in log space, so products of hundreds of small values stay finite.

Costs are proportional to the hypertree, never to the tree: statistics are per goal, keyed by
node id, a goal's tactics are its ``out_edges``, and nothing walks ``tree.edges``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Set as AbstractSet

from data.jsonable import finite
from data.proof_tree import Edge, InternalNode, Node, Status
from models.end_to_end.search_models.base import (
    Display,
    SearchModel,
    check_number,
    is_expandable,
)

_OPEN = Status.OPEN
_PROVED = Status.PROVED
_FAILED = Status.FAILED
_NEG_INF = -math.inf

_NO_MARKS: frozenset[int] = frozenset()
_NO_KIDS: list[int] = []  # shared by every leaf entry; never appended to

_MAX_BATCHES_PER_CALL = 3
"""Selections one get_goals call may start when they find nothing new (a guard: a consistent
tree always yields a leaf while its root is open, so one batch is enough)."""

_MAX_HYPERTREE_IDS = 64
"""Node ids a select entry records of its simulation's hypertree, root first (it records the
size whole): a bound on the trace's bytes per expansion."""


def _logaddexp(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for two floats. math has no logsumexp and numpy's ufunc costs about
    a microsecond a scalar call, which is most of a backup's work."""
    if a < b:
        a, b = b, a
    if b == _NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


class _Tactic:
    """One live tactic of an expanded goal: edges with the same subgoals merged into one."""

    __slots__ = ("goal", "edge", "dst", "logprob", "prior", "n", "vc", "logw", "dead")

    def __init__(self, goal: _Goal, edge: Edge) -> None:
        self.goal = goal
        self.edge = edge  # the merged edge of highest logprob
        self.dst: list[Node] = edge.dst
        self.logprob = edge.logprob
        self.prior = 0.0
        self.n = 0  # N(g, t): simulations backed up through it
        self.vc = 0  # simulations through it awaiting backup; VN(g, t) = vc * virtual_loss
        self.logw = _NEG_INF  # log W(g, t)
        self.dead = False  # a subgoal failed: never selected again (FAILED is final)

    def is_dead(self) -> bool:
        if not self.dead:
            for d in self.dst:
                if d.status is _FAILED:
                    self.dead = True
                    break
        return self.dead


class _Goal:
    """Statistics of one expanded goal: its tactics by prior, Σ_t N and Σ_t vc."""

    __slots__ = ("node", "tactics", "sum_n", "sum_vc", "seen", "best", "best_q")

    def __init__(self, node: InternalNode) -> None:
        self.node = node
        self.tactics: list[_Tactic] = []
        self.sum_n = 0
        self.sum_vc = 0
        self.seen = 0  # how many of node.out_edges are taken in
        self.best: _Tactic | None = None  # PUCT's choice, until the statistics change
        self.best_q = 0.0  # its Q


class _Simulation:
    """One selected hypertree as a DAG of distinct goals (entries), in the order found.

    A goal reached twice (a diamond) is one entry with two parents and uses one tactic; its
    multiplicity (occurrences in the unfolded hypertree) scales its backup, so statistics are
    those of every occurrence while the work stays linear in the distinct goals.
    """

    __slots__ = (
        "index",
        "nodes",
        "chosen",
        "kids",
        "parents",
        "post",
        "mult",
        "entry_of",
        "outstanding",
        "version",
        "stamp",
        "alive",
    )

    def __init__(self, index: int, root: InternalNode) -> None:
        self.index = index
        self.nodes: list[InternalNode] = [root]
        self.chosen: list[_Tactic | None] = [None]  # None: a leaf or a terminal goal
        self.kids: list[list[int]] = [_NO_KIDS]  # an expanded goal's: its subgoals' entries
        self.parents: list[list[int]] = [[]]
        self.post: list[int] = []  # children before parents
        self.mult: list[int] | None = None  # None: no diamond, every multiplicity is 1
        self.entry_of: dict[int, int] = {root.id: 0}
        self.outstanding = 0  # leaves not yet done
        self.version = -1  # the tree version at its selection
        self.stamp: list[int] = []  # tree version at which alive[e] was computed
        self.alive: list[bool] = []


class HTPS(SearchModel):
    """HyperTree Proof Search with PUCT, virtual counts for batches of simulations, and a critic.

    ``exploration`` is PUCT's c; ``fpu`` the Q of a tactic never visited; ``virtual_loss`` the
    count a simulation in flight adds to its tactics; ``simulations_per_batch`` how many
    hypertrees are selected before their leaves are expanded; ``depth_penalty`` multiplies a
    goal's value once per tactic below it.
    """

    uses_goal_model = True
    display = Display(
        node_scores={
            "critic": "the goal model's log-probability that the goal is provable",
            "htps_n": "simulations backed up through the goal (sum of its tactics' N)",
            "htps_q": "Q (a probability) of the tactic PUCT picks now",
        },
        edge_scores={
            "htps_n": "N: simulations backed up through the tactic",
            "htps_w": "log W: log of the sum of the values backed up through the tactic",
            "htps_prior": "prior: softmax of logprob over the goal's live, merged tactics",
        },
        step_nodes={"hypertree": "goals of the step's simulation's hypertree (the first 64)"},
    )

    def __init__(
        self,
        exploration: float = 1.0,
        fpu: float = 0.5,
        virtual_loss: float = 1.0,
        simulations_per_batch: int = 1,
        depth_penalty: float = 1.0,
    ) -> None:
        super().__init__()
        check_number(exploration, "exploration", lambda x: x >= 0, "must be >= 0")
        check_number(fpu, "fpu", lambda x: 0 <= x <= 1, "must be in [0, 1]")
        check_number(virtual_loss, "virtual_loss", lambda x: x > 0, "must be > 0")
        check_number(depth_penalty, "depth_penalty", lambda x: 0 < x <= 1, "must be in (0, 1]")
        if (
            isinstance(simulations_per_batch, bool)
            or not isinstance(simulations_per_batch, int)
            or simulations_per_batch < 1
        ):
            raise ValueError(
                "search_model.simulations_per_batch: must be an integer >= 1, "
                f"got {simulations_per_batch!r}"
            )
        self.exploration = float(exploration)
        self.fpu = float(fpu)
        self.virtual_loss = float(virtual_loss)
        self.simulations_per_batch = simulations_per_batch
        self.depth_penalty = float(depth_penalty)
        self._log_depth_penalty = math.log(self.depth_penalty)
        self._root: InternalNode | None = None
        self._clear()

    def _clear(self) -> None:
        self._goals: dict[int, _Goal] = {}
        self._waiting: dict[int, list[_Simulation]] = {}  # leaves in flight -> simulations
        self._handed: dict[int, InternalNode] = {}  # handed out, expansion not yet done
        self._pending: deque[InternalNode] = deque()  # found, not yet handed out
        self._simulations = 0
        self._in_flight = 0  # simulations selected, not yet backed up
        self._version = 0  # bumped whenever a goal is decided, so cached path checks expire

    # The interface.

    def reset(self, root: InternalNode) -> None:
        self._start_trace()
        self._clear()
        self._root = root

    def get_goal(self) -> tuple[InternalNode, float] | None:
        selected = self.get_goals(1)
        return selected[0] if selected else None

    def get_goals(self, n: int) -> list[tuple[InternalNode, float]]:
        """Up to ``n`` distinct leaves: the current simulations' first, then a new batch's.

        Empty when the root is decided, or when every reachable expandable goal is already
        handed out and awaits ``expansion_done``.
        """
        root = self._root
        if root is None:
            raise RuntimeError("HTPS.get_goals: call reset(root) first")
        if self._handed:
            self._reap()
        out: list[tuple[InternalNode, float]] = []
        batches = 0
        while len(out) < n and root.status is _OPEN:
            node = self._next_pending()
            if node is not None:
                out.append(self._hand_out(node))
            elif out or batches == _MAX_BATCHES_PER_CALL:
                break
            else:
                batches += 1
                self._run_batch()
        return out

    def process_response(self, edge: Edge) -> None:
        if self._root is None:
            raise RuntimeError("HTPS.process_response: call reset(root) first")
        if edge.src.status is not _OPEN:  # a goal was decided: statuses changed above it
            self._version += 1
        self._record_response(edge, [])

    def expansion_done(self, node: InternalNode) -> None:
        if node.status is not _OPEN:
            self._version += 1
        self._done(node.id)
        root = self._root
        if root is not None and root.status is not _OPEN and self._waiting:
            # The attempt is over: back up what is left, so no virtual count stays behind.
            for nid in list(self._waiting):
                self._done(nid)

    @property
    def simulations_in_flight(self) -> int:
        """Simulations selected whose backup still waits for some of their leaves."""
        return self._in_flight

    def virtual_count(self) -> int:
        """Occurrences in flight summed over every tactic (Σ VN / virtual_loss): 0 whenever no
        simulation awaits its backup. O(expanded goals); for tests and debugging."""
        return sum(t.vc for g in self._goals.values() for t in g.tactics)

    def tactic_stats(self, edge: Edge) -> dict[str, float] | None:
        """N, log W, VN and prior of the tactic ``edge`` belongs to (merged edges share one);
        None if its goal has no statistics yet or the edge is not live. For tests and tools."""
        goal = self._goals.get(edge.src.id)
        if goal is None:
            return None
        key = frozenset(d.id for d in edge.dst)
        for t in goal.tactics:
            if t.edge is edge or frozenset(d.id for d in t.dst) == key:
                return {
                    "n": t.n,
                    "logw": t.logw,
                    "vn": t.vc * self.virtual_loss,
                    "prior": t.prior,
                }
        return None

    # Handing out leaves.

    def _next_pending(self) -> InternalNode | None:
        """The first pending leaf still worth expanding; the others are done without expansion."""
        pending = self._pending
        waiting = self._waiting
        while pending:
            node = pending.popleft()
            sims = waiting.get(node.id)
            if sims is None:
                continue  # done already
            if is_expandable(node) and any(self._alive(s, s.entry_of[node.id]) for s in sims):
                return node
            self._done(node.id)
        return None

    def _hand_out(self, node: InternalNode) -> tuple[InternalNode, float]:
        sim = self._waiting[node.id][0]
        self._handed[node.id] = node
        critic = node.scores["critic"]
        score = finite(critic)  # None for -inf, which JSON cannot hold
        self._record_select(
            node,
            score,
            frontier=len(self._pending),
            sim=sim.index,
            critic=score,
            hypertree_size=len(sim.nodes),
            hypertree=[x.id for x in sim.nodes[:_MAX_HYPERTREE_IDS]],
        )
        return node, critic

    def _reap(self) -> None:
        """Handed-out goals decided or explored without an ``expansion_done`` count as done."""
        for nid, node in list(self._handed.items()):
            if not is_expandable(node):
                if node.status is not _OPEN:
                    self._version += 1
                self._done(nid)

    def _done(self, nid: int) -> None:
        self._handed.pop(nid, None)
        sims = self._waiting.pop(nid, None)
        if sims is None:
            return
        for sim in sims:
            sim.outstanding -= 1
            if sim.outstanding == 0:
                self._backup(sim)

    def _alive(self, sim: _Simulation, e: int) -> bool:
        """Whether some path of ``sim`` from the root to entry ``e`` still needs it: every goal
        on it OPEN, every tactic on it not failed. Cached per tree version."""
        version = self._version
        if version == sim.version:
            return True  # nothing was decided since the selection, when every path was alive
        if not sim.stamp:
            sim.stamp = [-1] * len(sim.nodes)
            sim.alive = [False] * len(sim.nodes)
        stamp, alive = sim.stamp, sim.alive
        if stamp[e] == version:
            return alive[e]
        parents, nodes, chosen = sim.parents, sim.nodes, sim.chosen
        stack = [e]
        while stack:
            x = stack[-1]
            if stamp[x] == version:
                stack.pop()
                continue
            todo = [p for p in parents[x] if stamp[p] != version]
            if todo:
                stack.extend(todo)
                continue
            ok = not parents[x]  # the root
            for p in parents[x]:
                tactic = chosen[p]
                if (
                    alive[p]
                    and nodes[p].status is _OPEN
                    and tactic is not None
                    and not tactic.is_dead()
                ):
                    ok = True
                    break
            alive[x] = ok
            stamp[x] = version
            stack.pop()
        return alive[e]

    # Selection.

    def _run_batch(self) -> int:
        """Select up to ``simulations_per_batch`` hypertrees; queue their new leaves, value them
        in one goal-model call; return how many leaves were queued."""
        waiting = self._waiting
        marked: set[int] = set()  # edge ids whose subtrees hold no new leaf (this batch)
        new: list[InternalNode] = []
        for _ in range(self.simulations_per_batch):
            sim, leaves = self._select(marked)
            fresh = [nid for nid in leaves if nid not in waiting]
            if leaves and not fresh:
                # Every leaf is in flight already: steer the next selection elsewhere and drop
                # this one rather than count those leaves twice.
                root_saturated = self._saturate(sim, marked)
                self._drop(sim)
                if root_saturated:
                    break
                continue
            self._simulations += 1
            self._in_flight += 1
            for nid in leaves:
                sims = waiting.get(nid)
                if sims is None:
                    waiting[nid] = [sim]
                    new.append(sim.nodes[sim.entry_of[nid]])
                else:
                    sims.append(sim)
            sim.outstanding = len(leaves)
            if not leaves:  # only decided goals below: nothing to wait for
                self._backup(sim)
        unvalued = [node for node in new if "critic" not in node.scores]
        if unvalued:
            for node, value in zip(
                unvalued, self.values([node.goal for node in unvalued]), strict=True
            ):
                node.scores["critic"] = value
        self._pending.extend(new)
        return len(new)

    def _select(self, marked: set[int]) -> tuple[_Simulation, list[int]]:
        """One descent from the root, virtual counts added on the way; the leaves' node ids."""
        root = self._root
        assert root is not None
        sim = _Simulation(self._simulations, root)
        sim.version = self._version
        nodes, chosen, kids, parents, post = (
            sim.nodes,
            sim.chosen,
            sim.kids,
            sim.parents,
            sim.post,
        )
        entry_of = sim.entry_of
        entered = [False]
        leaves: list[int] = []
        goals = self._goals
        choose = self._choose
        take_in = self._take_in
        diamond = False
        stack = [0]  # entries to enter; ~e: leave entry e
        while stack:
            e = stack.pop()
            if e < 0:
                post.append(~e)
                continue
            if entered[e]:
                continue
            entered[e] = True
            node = nodes[e]
            if node.status is not _OPEN:  # decided: a terminal leaf
                post.append(e)
                continue
            if not node.is_explored:
                leaves.append(node.id)
                post.append(e)
                continue
            goal = goals.get(node.id)
            if goal is None or goal.seen != len(node.out_edges):
                goal = take_in(node, goal)
            tactic = choose(goal, marked)
            if tactic is None:  # open, explored, no live tactic: cannot happen in a ProofTree
                post.append(e)
                continue
            tactic.vc += 1
            goal.sum_vc += 1
            goal.best = None
            chosen[e] = tactic
            stack.append(~e)
            kids[e] = mine = []
            for d in tactic.dst:
                if d.status is _PROVED:
                    continue  # worth 1 (log 0) for good
                j = entry_of.get(d.id)
                if j is None:
                    j = entry_of[d.id] = len(nodes)
                    nodes.append(d)  # type: ignore[arg-type]  # an open edge's dst are goals
                    chosen.append(None)
                    kids.append(_NO_KIDS)
                    parents.append([e])
                    entered.append(False)
                else:
                    parents[j].append(e)
                    diamond = True
                mine.append(j)
            # Enter the first subgoal first; one already entered is skipped when popped. One
            # reached before but not yet entered is entered below e, so it precedes e in post.
            stack.extend(reversed(mine))
        if diamond:
            # Multiplicities: occurrences of each goal in the unfolded hypertree.
            mult = [0] * len(nodes)
            mult[0] = 1
            for e in reversed(post):
                m = mult[e]
                for c in kids[e]:
                    mult[c] += m
            sim.mult = mult
            for e in post:
                tactic = chosen[e]
                if tactic is not None and mult[e] > 1:
                    tactic.vc += mult[e] - 1
                    tactic.goal.sum_vc += mult[e] - 1
        return sim, leaves

    def _drop(self, sim: _Simulation) -> None:
        """Take a selected simulation's virtual counts back without backing it up."""
        mult = sim.mult
        for e in sim.post:
            tactic = sim.chosen[e]
            if tactic is not None:
                m = 1 if mult is None else mult[e]
                tactic.vc -= m
                goal = tactic.goal
                goal.sum_vc -= m
                goal.best = None

    def _choose(self, goal: _Goal, marked: AbstractSet[int]) -> _Tactic | None:
        """PUCT's argmax over the live tactics (ties to the higher prior); tactics in ``marked``
        only when every live one is.

        Unmarked choices are cached until the goal's statistics change: a tactic that dies
        meanwhile can only drop out, so a cached choice that is still alive is still the argmax.
        """
        if not marked:
            best = goal.best
            if best is not None and not best.dead:
                for d in best.dst:
                    if d.status is _FAILED:
                        best.dead = True
                        break
                else:
                    return best
        vl = self.virtual_loss
        fpu = self.fpu
        scale = self.exploration * math.sqrt(goal.sum_n + vl * goal.sum_vc)
        best = None
        best_score = -1.0  # scores are >= 0
        best_q = 0.0
        fallback: _Tactic | None = None
        fallback_score = -1.0
        exp = math.exp
        for t in goal.tactics:
            if t.dead:
                continue
            for d in t.dst:
                if d.status is _FAILED:
                    t.dead = True
                    break
            else:
                count = t.n + vl * t.vc
                if count == 0:
                    q = fpu
                    score = fpu + scale * t.prior
                else:
                    q = exp(t.logw) / count
                    score = q + scale * t.prior / (1 + count)
                if marked and t.edge.id in marked:
                    if score > fallback_score:
                        fallback, fallback_score = t, score
                elif score > best_score:
                    best, best_score, best_q = t, score, q
        if not marked:
            goal.best = best
            if best is not None:
                goal.best_q = best_q
        return best if best is not None else fallback

    def _take_in(self, node: InternalNode, goal: _Goal | None) -> _Goal:
        """Statistics for ``node``'s tactics: failed edges dropped, edges with the same subgoals
        merged (highest logprob kept), priors the softmax of the logprobs, best first."""
        if goal is None:
            goal = self._goals[node.id] = _Goal(node)
        by_key = {frozenset(d.id for d in t.dst): t for t in goal.tactics}
        for edge in node.out_edges[goal.seen :]:
            dst = edge.dst
            if any(d.status is _FAILED for d in dst):
                continue
            key = frozenset([d.id for d in dst])
            tactic = by_key.get(key)
            if tactic is None:
                tactic = by_key[key] = _Tactic(goal, edge)
                goal.tactics.append(tactic)
            elif edge.logprob > tactic.logprob:
                tactic.edge.scores.pop("htps_prior", None)
                tactic.edge, tactic.logprob = edge, edge.logprob
        goal.seen = len(node.out_edges)
        goal.best = None
        tactics = goal.tactics
        if tactics:
            top = max(t.logprob for t in tactics)
            if top == _NEG_INF or math.isnan(top):
                weights = [1.0] * len(tactics)
            else:
                weights = [math.exp(t.logprob - top) for t in tactics]
            total = sum(weights)
            for t, w in zip(tactics, weights, strict=True):
                t.prior = w / total
                t.edge.scores["htps_prior"] = t.prior
            tactics.sort(key=lambda t: -t.prior)  # stable: ties keep edge order
        return goal

    # Backup.

    def _backup(self, sim: _Simulation) -> None:
        """Bottom-up over the hypertree: v(g) = depth_penalty * Π v(subgoals), in log space."""
        self._in_flight -= 1
        nodes, chosen, kids, mult = sim.nodes, sim.chosen, sim.kids, sim.mult
        values = [0.0] * len(nodes)
        log_dp = self._log_depth_penalty
        log = math.log
        choose = self._choose
        for e in sim.post:
            node = nodes[e]
            status = node.status
            tactic = chosen[e]
            if tactic is None:
                if status is _PROVED:
                    v = 0.0
                elif status is _FAILED:
                    v = _NEG_INF
                else:
                    v = node.scores.get("critic", _NEG_INF)
            else:
                if status is _PROVED:
                    v = 0.0
                else:
                    v = log_dp
                    for c in kids[e]:
                        v += values[c]
                m = 1 if mult is None else mult[e]
                tactic.n += m
                tactic.vc -= m
                tactic.logw = logw = _logaddexp(tactic.logw, v if m == 1 else v + log(m))
                goal = tactic.goal
                goal.sum_n += m
                goal.sum_vc -= m
                goal.best = None
                scores = tactic.edge.scores
                scores["htps_n"] = tactic.n
                scores["htps_w"] = logw
                # A goal is one entry of the simulation, so its statistics are final here.
                scores = node.scores
                scores["htps_n"] = goal.sum_n
                scores["htps_q"] = goal.best_q if choose(goal, _NO_MARKS) is not None else 0.0
            values[e] = v
        self.search_trace.append(
            {"step": self._step, "event": "backup", "sim": sim.index, "value": finite(values[0])}
        )

    def _saturate(self, sim: _Simulation, marked: set[int]) -> bool:
        """Mark the tactics of ``sim`` whose subgoals all lead only to leaves in flight or to
        decided goals; True if the root is such a goal (nothing new is reachable)."""
        chosen, kids = sim.chosen, sim.kids
        saturated = [True] * len(sim.nodes)
        for e in sim.post:
            tactic = chosen[e]
            if tactic is None:
                continue  # a leaf in flight, or a decided goal
            if all(saturated[c] for c in kids[e]):
                marked.add(tactic.edge.id)
            saturated[e] = all(t.edge.id in marked or t.is_dead() for t in tactic.goal.tactics)
        return saturated[0]

"""The prover's view of the generator: beam search or sampling over a batch of goals, each
suggestion scored by its exact log-probability, optionally reading retrieved premises.

Decoding follows ReProver (``HuggingFaceGenerator.generate``): beam search with
``length_penalty=0`` and no early stopping, or plain sampling at temperature 1 with no top-k or
top-p. The decoders only propose strings; every distinct string is then re-scored by one
teacher-forced pass, so a score is the true log-probability of the string's bytes and
``</s>`` whatever the decoder did: HF's own scores depend on ``length_penalty`` and on sampling
warpers (transformers #15869, #16413), and BAIT finds its scores "slightly off ... by ~10^-2".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from transformers import GenerationConfig
from transformers.modeling_outputs import BaseModelOutput

from data.jsonable import keyword_arguments
from data.proof_tree import Goal
from environments.base import Premise, Suggestion
from models.end_to_end.tactic_models.base import Premises, TacticModel, check_batch
from models.end_to_end.tactic_models.byt5 import EOS_ID, PAD_ID, text_of
from models.end_to_end.tactic_models.generator.inputs import format_input
from models.end_to_end.tactic_models.generator.model import (
    GeneratorModel,
    load_generator_checkpoint,
)
from models.end_to_end.tactic_models.generator.premises import PremiseRanking

DECODINGS = ("beam", "sample")
MAX_SAMPLING_ROUNDS = 10  # BAIT's limit on rounds of sampling in search of k distinct tactics
_RESCORE_BATCH = 256  # (goal, tactic) rows per teacher-forced pass, to bound logits memory


class GeneratorTacticModel(TacticModel):
    """Suggests up to ``num_sampled_tactics`` tactics per goal, written by a ``GeneratorModel``.

    The model comes from ``ckpt_path`` (our Lightning checkpoint; ``model`` is then ignored) or
    is built from ``model`` (``GeneratorModel`` keyword arguments: a new seeded model, or
    ``pretrained``, a local Hugging Face directory). ``max_input_bytes``/``max_output_bytes``
    None take the model's own. ``decoding`` "beam" is deterministic; "sample" draws up to
    ``MAX_SAMPLING_ROUNDS`` rounds of k samples per goal, from a generator seeded by ``seed``
    and the call count (None: the global RNG), so the global RNG is left as it was. Beam
    results do not depend on the batch a goal comes in; samples do (one stream per call).

    With ``num_retrieved > 0`` each goal is read with that many premises in front of it: those
    the ``retriever`` (``PremiseRetriever`` keyword arguments) ranks best among the goal's own
    premises, or with no retriever those sharing its rarest symbols (`premises.PremiseRanking`,
    as the data module ranks them in training).

    A decoded sequence that reaches the length limit without ``</s>`` is not a complete tactic
    and is dropped, as is the empty string; so a goal may get fewer than k suggestions (none,
    from an untrained model). A string is scored as its canonical byte sequence: other token
    sequences that decode to it (through skipped special tokens or invalid UTF-8) are not
    counted, which keeps every score exact and each goal's list normalised.
    """

    model: GeneratorModel
    """The module in use; ``reload`` replaces it."""

    def __init__(
        self,
        ckpt_path: str | None = None,
        model: Mapping[str, Any] | None = None,
        num_sampled_tactics: int = 8,
        decoding: str = "beam",
        max_input_bytes: int | None = None,
        max_output_bytes: int | None = None,
        num_retrieved: int = 0,
        retriever: Mapping[str, Any] | None = None,
        device: str = "cpu",
        seed: int | None = 0,
    ) -> None:
        if num_sampled_tactics < 1:
            raise ValueError(
                f"tac_model.num_sampled_tactics must be >= 1, got {num_sampled_tactics}"
            )
        if decoding not in DECODINGS:
            raise ValueError(f"tac_model.decoding must be 'beam' or 'sample', got {decoding!r}")
        for key, value in (
            ("max_input_bytes", max_input_bytes),
            ("max_output_bytes", max_output_bytes),
        ):
            if value is not None and value < 1:
                raise ValueError(f"tac_model.{key} must be null or >= 1, got {value}")
        if num_retrieved < 0:
            raise ValueError(f"tac_model.num_retrieved must be >= 0, got {num_retrieved}")
        if retriever is not None and num_retrieved == 0:
            raise ValueError(
                "tac_model.retriever is set but tac_model.num_retrieved is 0, so it would never "
                "be used; set num_retrieved > 0 or retriever: null"
            )
        self.num_sampled_tactics, self.decoding = num_sampled_tactics, decoding
        self._max_input_bytes, self._max_output_bytes = max_input_bytes, max_output_bytes
        self.num_retrieved, self.device, self.seed = num_retrieved, device, seed
        self._sampling_calls = 0
        self.ranking = PremiseRanking(retriever, device)
        if ckpt_path is not None:
            self.reload(ckpt_path)
            return
        config = keyword_arguments(model, "tac_model.model")
        try:
            built = GeneratorModel(**config)
        except TypeError as e:  # an unknown key
            raise ValueError(f"tac_model.model: {e} (see GeneratorModel's arguments)") from e
        self._use(built.to(device).eval(), None)

    @property
    def max_input_bytes(self) -> int:
        """Bytes of premises and goal the model reads (``</s>`` on top)."""
        if self._max_input_bytes is not None:
            return self._max_input_bytes
        return self.model.max_input_bytes

    @property
    def max_output_bytes(self) -> int:
        """Bytes of the longest tactic the decoder may write (``</s>`` on top)."""
        if self._max_output_bytes is not None:
            return self._max_output_bytes
        return self.model.max_output_bytes

    def reload(self, checkpoint: str) -> None:
        """Load new weights (a local Lightning checkpoint of ``GeneratorModel``) in place."""
        self._use(load_generator_checkpoint(checkpoint, self.device), checkpoint)

    def _use(self, model: GeneratorModel, checkpoint: str | None) -> None:
        self.model = model
        self.checkpoint = checkpoint

    @torch.inference_mode()
    def get_tactics(self, goals: list[Goal], premises: list[Premises]) -> list[list[Suggestion]]:
        """The suggestions of every goal, from one batched decoding pass (per sampling round)
        and one batched re-scoring pass."""
        check_batch(goals, premises)
        if not goals:
            return []
        model = self.model.eval()  # T5 dropout is on in train mode
        sources = [
            format_input(goal, chosen, self.max_input_bytes)
            for goal, chosen in zip(goals, self._premises_read(goals, premises), strict=True)
        ]
        input_ids, attention_mask = model.encode_sources(sources, self.max_input_bytes)
        # One encoder pass serves decoding (all rounds) and re-scoring.
        hidden = model.t5.get_encoder()(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state
        if self.decoding == "beam":
            candidates = self._beam(hidden, attention_mask)
        else:
            candidates = self._sample(hidden, attention_mask)
        return self._rescore(hidden, attention_mask, candidates)

    def _premises_read(
        self, goals: list[Goal], premises: list[Premises]
    ) -> list[Sequence[Premise]]:
        """The premises each goal is read with, best first: ranked as the data module ranks
        them in training (`premises.PremiseRanking`)."""
        if self.num_retrieved == 0:
            return [[] for _ in goals]
        return list(self.ranking.rank(goals, premises, self.num_retrieved))

    def _generation_config(self, **options: Any) -> GenerationConfig:
        return GenerationConfig(
            decoder_start_token_id=PAD_ID,
            pad_token_id=PAD_ID,
            eos_token_id=EOS_ID,
            max_new_tokens=self.max_output_bytes + 1,  # the tactic's bytes and </s>
            num_return_sequences=self.num_sampled_tactics,
            return_dict_in_generate=True,
            **options,
        )

    def _generate(self, hidden: Tensor, attention_mask: Tensor, config: GenerationConfig) -> Tensor:
        """Token ids ``[len(hidden), k, length]`` (decoder start first) of k decodings each."""
        out = self.model.t5.generate(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=attention_mask,
            generation_config=config,
        )
        sequences = out if isinstance(out, Tensor) else out.sequences
        return sequences.view(len(hidden), self.num_sampled_tactics, -1)

    def _beam(self, hidden: Tensor, attention_mask: Tensor) -> list[list[str]]:
        config = self._generation_config(
            num_beams=self.num_sampled_tactics,
            do_sample=False,
            length_penalty=0.0,  # rank by the plain sum of log-probs, as the search does
            early_stopping=False,
        )
        return [self._complete(rows) for rows in self._generate(hidden, attention_mask, config)]

    def _sample(self, hidden: Tensor, attention_mask: Tensor) -> list[list[str]]:
        """Distinct complete strings per goal, sampling again for the goals with fewer than k
        (all still-short goals in one batch per round)."""
        config = self._generation_config(
            do_sample=True, num_beams=1, temperature=1.0, top_k=0, top_p=1.0
        )
        found: list[dict[str, None]] = [{} for _ in range(len(hidden))]  # ordered sets
        pending = list(range(len(hidden)))
        with self._seeded():
            for _ in range(MAX_SAMPLING_ROUNDS):
                index = torch.tensor(pending, device=hidden.device)
                sequences = self._generate(hidden[index], attention_mask[index], config)
                for i, rows in zip(pending, sequences, strict=True):
                    found[i].update(dict.fromkeys(self._complete(rows)))
                pending = [i for i in pending if len(found[i]) < self.num_sampled_tactics]
                if not pending:
                    break
        return [list(strings) for strings in found]

    @contextlib.contextmanager
    def _seeded(self) -> Iterator[None]:
        """Sampling from a generator seeded by ``seed`` and the call count, leaving the global
        RNG (CPU and the model's GPU) as it was; the global RNG itself when ``seed`` is None."""
        if self.seed is None:
            yield
            return
        seed = self.seed + self._sampling_calls
        self._sampling_calls += 1
        device = torch.device(self.device)
        gpus = (
            [device.index if device.index is not None else torch.cuda.current_device()]
            if device.type == "cuda"
            else []
        )
        with torch.random.fork_rng(devices=gpus):
            torch.default_generator.manual_seed(seed)
            for gpu in gpus:
                torch.cuda.default_generators[gpu].manual_seed(seed)
            yield

    def _complete(self, rows: Tensor) -> list[str]:
        """The distinct non-empty strings of the rows that end in ``</s>``, in row order."""
        strings: dict[str, None] = {}
        for row in rows.tolist():
            tokens = row[1:]  # after the decoder start token
            if EOS_ID not in tokens:
                continue  # cut off by max_new_tokens: not a complete tactic
            text = text_of(tokens[: tokens.index(EOS_ID)])
            if text:
                strings.setdefault(text)
        return list(strings)

    def _rescore(
        self, hidden: Tensor, attention_mask: Tensor, candidates: list[list[str]]
    ) -> list[list[Suggestion]]:
        """Each goal's candidates with their teacher-forced log-probabilities, best first."""
        rows = [(i, text) for i, texts in enumerate(candidates) for text in texts]
        scores: list[float] = []
        for start in range(0, len(rows), _RESCORE_BATCH):
            chunk = rows[start : start + _RESCORE_BATCH]
            index = torch.tensor([i for i, _ in chunk], device=hidden.device)
            logprobs = self.model.target_logprobs(
                hidden[index], attention_mask[index], [text for _, text in chunk]
            )
            scores.extend(logprobs.tolist())
        suggestions: list[list[Suggestion]] = [[] for _ in candidates]
        for (i, text), score in zip(rows, scores, strict=True):
            suggestions[i].append((text, min(score, 0.0)))
        for row in suggestions:
            row.sort(key=lambda s: -s[1])
            del row[self.num_sampled_tactics :]
        return suggestions

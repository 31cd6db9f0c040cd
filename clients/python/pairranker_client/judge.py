"""A pairwise judge with TRL's `BasePairwiseJudge` interface, scored by a pairranker server.

TRL's online DPO and judge-based trainers take a `judge` object; `PairRankerJudge` answers
`judge(prompts, completions, shuffle_order=True, return_scores=False, temperature=1.0)` exactly as
TRL's `PairRMJudge` does with a local llm-blender ranker, but over HTTP:
- without scores: per prompt, 0 when the first completion is preferred, 1 when the second is
  (a tie counts for the first, as the ranks "1, 1" do);
- with scores: the softmax probability of the first completion from the two rank scores,
  divided by `temperature`.
The server ranks both orders of the pair (the default full mode), so shuffling the order, which
TRL does against position bias, gives the same answers.
"""

import math
import random

from .client import Client

try:  # subclass TRL's base class when TRL is installed, so isinstance checks pass
    from trl import BasePairwiseJudge as _Base  # TRL < 1.0
except Exception:  # pragma: no cover - depends on the environment
    try:
        from trl.experimental.judges import BasePairwiseJudge as _Base  # TRL >= 1.0
    except Exception:
        _Base = object


class PairRankerJudge(_Base):
    """`PairRankerJudge(client=None, batch_size=32, **client_options)`; `batch_size` prompts per
    /rank request (keep it at or under the server's max_inputs, 64 by default)."""

    def __init__(self, client=None, batch_size=32, **client_options):
        self.client = client or Client(**client_options)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size

    def judge(self, prompts, completions, shuffle_order=True, return_scores=False, temperature=1.0):
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completion pairs")
        if any(len(pair) != 2 for pair in completions):
            raise ValueError("PairRankerJudge requires exactly 2 completions per prompt.")
        flips = [random.random() < 0.5 for _ in prompts] if shuffle_order else [False] * len(prompts)
        pairs = [list(pair[::-1]) if flip else list(pair) for flip, pair in zip(flips, completions)]
        out = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            reply = self.client.rank(inputs=list(prompts[chunk]), candidates=pairs[chunk], return_scores=True)
            for flip, ranks, scores in zip(flips[chunk], reply["ranks"], reply["scores"]):
                if flip:
                    ranks, scores = ranks[::-1], scores[::-1]
                if return_scores:
                    a, b = scores[0] / temperature, scores[1] / temperature
                    m = max(a, b)
                    ea, eb = math.exp(a - m), math.exp(b - m)
                    out.append(ea / (ea + eb))
                else:
                    out.append(ranks[0] - 1)
        return out

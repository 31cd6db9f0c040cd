"""Client for the pairranker server: `Client` (rank, compare, rerank, get_reward, tokenize,
health, ready, info) and `PairRankerJudge` (TRL's pairwise judge interface)."""

from .client import Client
from .errors import (BadRequest, ConnectionFailed, DeadlineExceeded, NotFound, Overloaded, PairRankerError,
                     RequestTooLarge, ServerError, Unauthorized, Unavailable, ValidationFailed)
from .judge import PairRankerJudge

__all__ = ["Client", "PairRankerJudge", "PairRankerError", "ConnectionFailed", "BadRequest", "Unauthorized",
           "NotFound", "RequestTooLarge", "ValidationFailed", "Overloaded", "Unavailable", "DeadlineExceeded",
           "ServerError"]
__version__ = "0.1.0"

"""``distributed.computed_on_main``: rank 0 alone computes (a dataset's or a checkpoint's digests),
every rank gets its value or its exception; the collective is simulated with a pickle round trip,
as ``broadcast_object_list`` sends objects."""

from __future__ import annotations

import pickle

import pytest
import torch.distributed as dist

from wetok_bench.core import distributed as D
from wetok_bench.core.errors import UsageError


@pytest.fixture
def wire(monkeypatch):
    """A two-rank broadcast played one rank after the other: rank 0's call records what it sends,
    rank 1's call receives it (pickled and unpickled)."""
    sent: list[bytes] = []

    def broadcast_object_list(box, src=0):
        assert src == 0
        if sent:  # rank 1: overwrite its placeholder with rank 0's object
            box[0] = pickle.loads(sent.pop())
        else:
            sent.append(pickle.dumps(box[0]))

    monkeypatch.setattr(dist, "broadcast_object_list", broadcast_object_list)
    return sent


RANK0, RANK1 = D.DistContext(rank=0, world_size=2), D.DistContext(rank=1, world_size=2, local_rank=1)


def test_rank_0_computes_and_every_rank_gets_its_value(wire):
    calls = []

    def compute():
        calls.append("called")
        return {"sha256": "ab" * 32, "count": 9}

    assert D.computed_on_main(compute, RANK0) == {"sha256": "ab" * 32, "count": 9}
    assert D.computed_on_main(compute, RANK1) == {"sha256": "ab" * 32, "count": 9}
    assert calls == ["called"]  # rank 1 never hashed anything
    assert D.computed_on_main(lambda: 7, D.DistContext()) == 7  # one process: no collective
    assert wire == []


class _TwoArgs(Exception):
    def __init__(self, path, detail):
        super().__init__(f"{path}: {detail}")


def test_an_exception_on_rank_0_is_raised_on_every_rank(wire):
    def fail():
        raise UsageError("dataset 'imgs': a.png vanished while it was hashed")

    # rank 0 sends before it raises, so rank 1 is not left waiting in the broadcast
    with pytest.raises(UsageError, match="a.png vanished"):
        D.computed_on_main(fail, RANK0)
    with pytest.raises(UsageError, match="a.png vanished"):
        D.computed_on_main(lambda: pytest.fail("rank 1 must not compute"), RANK1)

    def fail_unpicklable():  # unpickling would call _TwoArgs(message) and fail on rank 1
        raise _TwoArgs("/w/model.ckpt", "permission denied")

    with pytest.raises(_TwoArgs):
        D.computed_on_main(fail_unpicklable, RANK0)
    with pytest.raises(RuntimeError, match=r"^_TwoArgs: /w/model.ckpt: permission denied$"):
        D.computed_on_main(lambda: None, RANK1)

"""A model with a batch form: it tells each request how many ran in its call."""

from typing import Any, ClassVar

from inferq.errors import InvalidInput
from inferq.service import Service


class Batches(Service):
    batch_size: ClassVar[int] = 8
    batch_wait_s: ClassVar[float] = 0.2

    def infer(self, x: str) -> dict[str, Any]:
        raise AssertionError("a batching service is called through infer_batch")

    def infer_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
        if any(each["x"] == "all-fail" for each in inputs):
            raise RuntimeError("the whole batch failed")
        return [
            InvalidInput("x must not be 'bad'", field="x")
            if each["x"] == "bad"
            else {"x": each["x"], "batch": len(inputs)}
            for each in inputs
        ]

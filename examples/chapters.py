"""A Service that works through a list one item at a time, as long work does: it saves a
checkpoint after each item, so a crashed worker costs one item, callers see each result as it
comes, and a cancel stops the work at the next item.

    inferq serve --endpoints chapters=examples/chapters.py:Chapters
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import Field

from inferq.service import Service, checkpoint, resumed


class Chapters(Service):
    """Counts the words of each chapter, slowly (``seconds_each``), as a model would summarise it."""

    def infer(
        self,
        chapters: Annotated[list[str], Field(min_length=1, max_length=1000)],
        seconds_each: Annotated[float, Field(ge=0, le=60)] = 0.2,
    ) -> dict[str, Any]:
        earlier = resumed()  # None, unless an earlier attempt was lost after a checkpoint
        results = list(earlier.outputs) if earlier else []
        for index in range(earlier.state["done"] if earlier else 0, len(chapters)):
            time.sleep(seconds_each)  # the model's work on one chapter
            result = {"chapter": index, "words": len(chapters[index].split())}
            results.append(result)
            # Stored durably and shown to callers at once; raises Cancelled once the request
            # is cancelled or times out, which stops the work here.
            checkpoint({"done": index + 1}, [result])
        return {"chapters": results}

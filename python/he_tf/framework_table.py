"""The functions another framework's adapter answers on encrypted data, bound to the op table.

An adapter (``he_tf.numpy``, ``he_tf.torch``) declares one :class:`Binding` per
function of its framework that it computes, naming the op of ``he_tf.optable``
that computes it. The bindings are the adapter's source of truth: it routes
from them, refuses what they lack, and its docs page carries the table that
:func:`markdown` renders from them (``tests/test_framework_docs.py`` checks
that the committed table is the generated one).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from he_tf import optable

BEGIN = "<!-- generated: supported functions -->"
END = "<!-- end generated -->"


@dataclasses.dataclass(frozen=True)
class Binding:
    """``function`` of the framework (e.g. ``"np.add"``) computes op ``op`` of the op table."""

    function: str
    op: str
    note: str = ""

    def __post_init__(self) -> None:
        optable.get(self.op)  # ValueError naming the table's ops for a misspelt op


def markdown(bindings: Iterable[Binding]) -> str:
    """The table of ``bindings``: function, the op-table op it runs, what the op does, notes."""
    rows = ["| function | he-tf op | computes | notes |", "|---|---|---|---|"]
    for b in bindings:
        rows.append(f"| `{b.function}` | `{b.op}` | {optable.get(b.op).doc} | {b.note} |")
    return "\n".join([BEGIN, *rows, END])


def generated_section(text: str) -> str:
    """The generated table as it stands in a page's ``text`` (between the markers), or ValueError."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the page has no generated table (between {BEGIN!r} and {END!r})")
    return text[start:end + len(END)]

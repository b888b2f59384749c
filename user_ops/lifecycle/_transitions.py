"""``transitions``: how customers moved between lifecycle stages from one snapshot to another."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._table import Table
from user_ops.exceptions import DataError, _UnknownNameError, value_repr
from user_ops.lifecycle._policy import LifecyclePolicy
from user_ops.lifecycle._summary import check_name, check_policy, stage_positions

__all__ = ["GONE", "NEW", "Transitions", "transitions"]

NEW = "new"
"""Pseudo-stage of customers found only in the later snapshot."""
GONE = "gone"
"""Pseudo-stage of customers found only in the earlier snapshot."""

IntArray = npt.NDArray[np.int64]
IntpArray = npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class Transitions:
    """The migration between two snapshots of lifecycle stages.

    Every customer of either snapshot is counted exactly once: in ``from × to`` when in both, as
    ``new → to`` when only in the later one, as ``from → gone`` when only in the earlier one.

    Attributes
    ----------
    sources:
        Row states: the stage codes, then ``"new"``.
    targets:
        Column states: the stage codes, then ``"gone"``.
    counts:
        ``len(sources) × len(targets)`` int64 array of customers.
    ids:
        Every customer id of either snapshot, sorted.
    source_index, target_index:
        For each of ``ids``, its row and column in ``counts``.
    labels:
        Stage code to ``(label_en, label_zh)``, pseudo-stages included.

    Examples
    --------
    >>> before = {"customer_id": [1, 2, 3], "stage": ["active", "active", "lapsed"]}
    >>> after = {"customer_id": [2, 3, 4], "stage": ["lapsed", "active", "active"]}
    >>> moves = transitions(before, after)
    >>> print(moves)
    from \\ to     active    lapsed      gone
    active             0         1         1
    lapsed             1         0         0
    new                1         0         0
    >>> moves.customers("active", "lapsed").tolist(), moves.new, moves.gone, moves.total
    ([2], 1, 1, 4)
    """

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    counts: IntArray
    ids: npt.NDArray[Any] = field(repr=False)
    source_index: IntpArray = field(repr=False)
    target_index: IntpArray = field(repr=False)
    labels: dict[str, tuple[str, str]] = field(repr=False)

    @property
    def total(self) -> int:
        """Customers in either snapshot (the union); equals the sum of the matrix and of the flows."""
        return int(self.counts.sum())

    @property
    def n_before(self) -> int:
        """Customers in the earlier snapshot."""
        return int(self.counts[:-1].sum())

    @property
    def n_after(self) -> int:
        """Customers in the later snapshot."""
        return int(self.counts[:, :-1].sum())

    @property
    def new(self) -> int:
        """Customers only in the later snapshot."""
        return int(self.counts[-1].sum())

    @property
    def gone(self) -> int:
        """Customers only in the earlier snapshot."""
        return int(self.counts[:, -1].sum())

    @property
    def stayed(self) -> int:
        """Customers in both snapshots, in the same stage."""
        return int(np.trace(self.counts[:-1, :-1]))

    @property
    def matrix(self) -> Table:
        """``from_stage``, then one count column per target state (``gone`` last), then ``total``."""
        columns: dict[str, Any] = {"from_stage": list(self.sources)}
        for j, target in enumerate(self.targets):
            columns[target] = self.counts[:, j]
        columns["total"] = self.counts.sum(axis=1)
        return Table(columns)

    @property
    def flows(self) -> Table:
        """The non-zero cells as ``source``, ``target``, ``count`` (the links of a Sankey diagram)."""
        rows, cols = np.nonzero(self.counts)
        return Table(
            {
                "source": np.asarray(self.sources, dtype=object)[rows],
                "target": np.asarray(self.targets, dtype=object)[cols],
                "count": self.counts[rows, cols],
            }
        )

    def count(self, source: str, target: str) -> int:
        """Customers who went from ``source`` to ``target``."""
        return int(self.counts[self._row(source), self._col(target)])

    def customers(self, source: str, target: str) -> npt.NDArray[Any]:
        """Ids of the customers who went from ``source`` to ``target`` (sorted)."""
        mask = (self.source_index == self._row(source)) & (self.target_index == self._col(target))
        result: npt.NDArray[Any] = self.ids[mask]
        return result

    def _row(self, source: str) -> int:
        if not (isinstance(source, str) and source in self.sources):
            raise _UnknownNameError(
                f"no source state {value_repr(source)} (states: {', '.join(self.sources)})"
            )
        return self.sources.index(source)

    def _col(self, target: str) -> int:
        if not (isinstance(target, str) and target in self.targets):
            raise _UnknownNameError(
                f"no target state {value_repr(target)} (states: {', '.join(self.targets)})"
            )
        return self.targets.index(target)

    def __str__(self) -> str:
        width = max(len(s) for s in (*self.sources, *self.targets, "from \\ to")) + 1
        head = "from \\ to".ljust(width) + "".join(t.rjust(width) for t in self.targets)
        lines = [head]
        for i, source in enumerate(self.sources):
            lines.append(source.ljust(width) + "".join(str(int(c)).rjust(width) for c in self.counts[i]))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th>{html.escape(t)}<br><small>{html.escape(self.labels.get(t, (t, t))[1])}</small></th>"
            for t in self.targets
        )
        body = "".join(
            f"<tr><th>{html.escape(s)} <small>{html.escape(self.labels.get(s, (s, s))[1])}</small></th>"
            + "".join(f"<td>{int(c)}</td>" for c in self.counts[i])
            + "</tr>"
            for i, s in enumerate(self.sources)
        )
        return (
            f"<div class='user-ops-transitions'><table><thead><tr><th>from \\ to</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table><p><small>{self.total} customers: {self.n_before} before, "
            f"{self.n_after} after, {self.new} new, {self.gone} gone, {self.stayed} in the same stage"
            "</small></p></div>"
        )


def _ids(table: Table, id_column: str, what: str) -> npt.NDArray[Any] | None:
    if id_column not in table:
        raise DataError(f"the {what} snapshot has no {id_column!r} column; pass id_column=...")
    if len(table) == 0:
        return None
    kind = table.kind(id_column)
    if kind not in ("int", "str"):
        raise DataError(f"{id_column!r} of the {what} snapshot must hold int or str ids, got {kind}")
    nulls = table.null_mask(id_column)
    if nulls is not None:
        row = int(np.flatnonzero(nulls)[0])
        raise DataError(f"{id_column!r} of the {what} snapshot is null at row {row}")
    ids = np.asarray(np.ma.getdata(table[id_column]))
    ordered = np.sort(ids, kind="stable")
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size:
        raise DataError(
            f"duplicate {id_column!r} in the {what} snapshot: {repeated[:1].tolist()[0]!r} "
            f"({np.unique(repeated).size} ids repeated); a snapshot has one row per customer"
        )
    return ids


def transitions(
    before: Any,
    after: Any,
    *,
    id_column: str = "customer_id",
    policy: LifecyclePolicy | None = None,
) -> Transitions:
    """The migration matrix between two classified snapshots (e.g. metrics at two ``as_of`` dates).

    Parameters
    ----------
    before, after:
        Results of [`LifecyclePolicy.classify`][] (or tables with ``id_column`` and ``stage``).
    id_column:
        The customer id column (int or str, no nulls, no duplicates within a snapshot).
    policy:
        The stage order (default: the snapshots' own policies, the earlier one's stages first;
        without any, the codes found, sorted).

    Returns
    -------
    Transitions
        ``.matrix`` (a Table), ``.flows`` (source, target, count), ``.customers(source, target)``,
        and totals that reconcile: ``sum(flows.count) == total == |ids before ∪ ids after|``.

    Raises
    ------
    DataError
        For a missing, null or duplicate id, ids of different types in the two snapshots, or a
        stage outside ``policy``.

    Examples
    --------
    >>> before = {"customer_id": [1, 2, 3], "stage": ["introduction", "growth", "growth"]}
    >>> after = {"customer_id": [2, 3, 4], "stage": ["maturity", "dormancy", "introduction"]}
    >>> moves = transitions(before, after, policy=LifecyclePolicy.default())
    >>> moves.count("growth", "maturity"), moves.count("new", "introduction")
    (1, 1)
    >>> moves.count("introduction", "gone")
    1
    >>> moves.total, int(moves.flows["count"].sum())
    (4, 4)
    """
    check_policy(policy)
    check_name("id_column", id_column)
    early, late = Table.coerce(before), Table.coerce(after)
    found_b, found_a = _ids(early, id_column, "before"), _ids(late, id_column, "after")
    if found_b is not None and found_a is not None and early.kind(id_column) != late.kind(id_column):
        raise DataError(
            f"{id_column!r} holds {early.kind(id_column)} ids before but {late.kind(id_column)} ids after"
        )
    present = found_b if found_b is not None else found_a
    empty = np.empty(0, dtype=present.dtype if present is not None else np.int64)
    ids_b = found_b if found_b is not None else empty
    ids_a = found_a if found_a is not None else empty
    pos_b, codes_b, labels_b = stage_positions(
        early, policy or getattr(before, "policy", None), what="before"
    )
    pos_a, codes_a, labels_a = stage_positions(late, policy or getattr(after, "policy", None), what="after")
    codes = list(codes_b) + [c for c in codes_a if c not in codes_b]
    if policy is None and not (getattr(before, "policy", None) or getattr(after, "policy", None)):
        codes = sorted(codes)
    where = {c: i for i, c in enumerate(codes)}
    pos_b = np.array([where[c] for c in codes_b], dtype=np.intp)[pos_b] if len(codes_b) else pos_b
    pos_a = np.array([where[c] for c in codes_a], dtype=np.intp)[pos_a] if len(codes_a) else pos_a
    union = np.unique(np.concatenate([ids_b, ids_a]))
    n_codes = len(codes)
    source = np.full(len(union), n_codes, dtype=np.intp)  # "new" unless found before
    target = np.full(len(union), n_codes, dtype=np.intp)  # "gone" unless found after
    source[np.searchsorted(union, ids_b)] = pos_b
    target[np.searchsorted(union, ids_a)] = pos_a
    width = n_codes + 1
    counts = np.bincount(source * width + target, minlength=width * width).reshape(width, width)
    labels = {c: (lab[1], lab[2]) for c, lab in {**labels_a, **labels_b}.items()}
    labels[NEW] = ("New", "新增")
    labels[GONE] = ("Gone", "离开")
    return Transitions(
        sources=(*codes, NEW),
        targets=(*codes, GONE),
        counts=counts.astype(np.int64),
        ids=union,
        source_index=source,
        target_index=target,
        labels=labels,
    )

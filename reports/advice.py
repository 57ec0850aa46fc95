"""Sweep-file edits the report suggests, each tried on the sweep it would change before it is printed.

Advice that pastes a setting `gatesweep validate` then rejects (a log transform on a series with negative
values), or that repeats what the sweep already does, costs a reader a round trip and their trust. So every
edit is applied to a copy of the sweep's own file (the parent run's `sweep.yaml`) and run through the checks
`validate` runs (`pipeline.core.config.spec_of`, then `pipeline.core.data.check_datasets` on the series read
once); an edit that fails is dropped, or a choice list loses the values that fail. Pure: no MLflow.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.core.config import SearchSpace, SpecError, SweepSpec, spec_of
from pipeline.core.data import DataError, check_datasets, load_panel

if TYPE_CHECKING:
    from pipeline.core.data import Panel

# search-space keys whose values `check_datasets` checks against the series: unknowable without them
DATA_KEYS = ("transform", "window", "strategy")


@dataclass(frozen=True)
class SweepEdit:
    """One setting of the sweep file: `path` into its mapping (`("confirm", "max_seeds")`,
    `("datasets", 0, "search_space", "transform")`) and the value to write there."""

    path: tuple[str | int, ...]
    value: Any

    @property
    def key(self) -> str:
        """The setting as the sweep file's error messages name it: `confirm.max_seeds`, `datasets[0].window`."""
        return ".".join(f"[{p}]" if isinstance(p, int) else p for p in self.path).replace(".[", "[")

    @property
    def snippet(self) -> str:
        """What to paste, in the sweep file's flow style: `normalize: {choice: [series, window]}`; a search-space
        key of the whole sweep by its own name (the sentence says where), anything else by its full key."""
        name = self.path[-1] if self.path[:1] == ("search_space",) else self.key
        value = yaml.safe_dump(self.value, default_flow_style=True, sort_keys=False).strip()
        return f"{name}: {value.removesuffix('...').strip()}"

    def apply(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A copy of the sweep file's mapping with this setting written in (missing sections created)."""
        out = copy.deepcopy(raw)
        node: Any = out
        for part in self.path[:-1]:
            if not isinstance(part, int) and node.get(part) is None:
                node[part] = {}
            node = node[part]
        node[self.path[-1]] = self.value
        return out


class SweepCheck:
    """A finished sweep's file and series, to try suggested edits on with the checks `gatesweep validate` runs.

    `raw` is the sweep file as logged (its CSV paths relative to `path`'s folder); `panels` the series as read
    now, or None when they cannot be read here (then an edit of a key checked against the data is refused)."""

    def __init__(self, raw: dict[str, Any], path: Path, spec: SweepSpec, panels: dict[str, Panel] | None,
                 unread: str | None = None) -> None:
        self.raw, self.path, self.spec, self.panels, self.unread = raw, path, spec, panels, unread

    @classmethod
    def of(cls, raw: dict[str, Any], path: str | Path) -> SweepCheck | None:
        """None when the logged file itself no longer validates (an older release's file): nothing to edit."""
        path = Path(path)
        try:
            spec = spec_of(raw, path)
        except SpecError:
            return None
        try:
            panels = {ds.name: load_panel(ds) for ds in spec.datasets}
        except DataError as exc:
            return cls(raw, path, spec, None, str(exc))
        return cls(raw, path, spec, panels)

    def space(self, dataset: str) -> SearchSpace:
        return self.spec.space_for(dataset)

    def problem(self, *edits: SweepEdit) -> str | None:
        """Why the sweep with `edits` would not pass `gatesweep validate` (one line), or None."""
        raw = self.raw
        for edit in edits:
            raw = edit.apply(raw)
        try:
            spec = spec_of(raw, self.path)
        except SpecError as exc:
            return str(exc)
        if self.panels is None:
            touched = [e.key for e in edits if e.path[-1] in DATA_KEYS]
            return f"{touched[0]}: cannot be checked against the data here ({self.unread})" if touched else None
        try:
            check_datasets(spec, self.panels)
        except DataError as exc:
            return f"{self.path}: {exc.field}: {exc}"
        return None

    def space_edit(self, dataset: str, name: str, value: Any) -> SweepEdit:
        """An edit of one search-space key for `dataset`: in the dataset's own `search_space` when it sets that
        key or the sweep has other datasets (the others keep theirs), else in the sweep's."""
        i, ds = next((i, d) for i, d in enumerate(self.spec.datasets) if d.name == dataset)
        own = ds.search_space is not None and getattr(ds.search_space, name) is not None
        if own or len(self.spec.datasets) > 1:
            return SweepEdit(("datasets", i, "search_space", name), value)
        return SweepEdit(("search_space", name), value)

    def widened(self, dataset: str, name: str, wanted: list[str]) -> SweepEdit | None:
        """The search-space edit that adds `wanted` values of `name` to what `dataset` already searches, keeping
        only the values that pass validation on their own; None when every wanted value is already searched
        (the edit is in effect) or none passes."""
        current = [str(x) for x in self.space(dataset).values(name)]
        kept = [w for w in wanted if w not in current and
                self.problem(self.space_edit(dataset, name, {"choice": [*current, w]})) is None]
        if not kept:
            return None
        edit = self.space_edit(dataset, name, {"choice": [*current, *kept]})
        return edit if self.problem(edit) is None else None

    def checked(self, *edits: SweepEdit) -> tuple[SweepEdit, ...] | None:
        """`edits` when together they validate, else None."""
        return edits if self.problem(*edits) is None else None


def load_check(text: str | None, path: str | None) -> SweepCheck | None:
    """The check for a sweep whose file (as logged) is `text`, first read from `path`; None without a file."""
    if text is None:
        return None
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        return None
    return SweepCheck.of(raw, Path(path) if path else Path("sweep.yaml"))

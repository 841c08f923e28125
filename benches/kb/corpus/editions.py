"""Policies written once per organisation, some of them in two editions
(2023 and 2024) that differ in a few values and clauses: the hardest
distractors in the set, since a question about one edition reads almost the
same against the other."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from .doc import Doc
from .world import Org, World

CHANGES_PER_EDITION = 3


@dataclass
class PolicyKind:
    """One kind of policy: how to draw its values and how to write it.

    `spec` draws each value that may differ between editions; `fixed` draws
    what stays (people, reference numbers); `write(org, values, year, rng)`
    writes one document, `year` None for a policy with a single edition, and
    drafts questions tagged with the value (`fact`) each one asks about."""

    name: str
    spec: dict[str, Callable[[random.Random], object]]
    fixed: Callable[[World], dict]
    write: Callable[[Org, dict, int | None, random.Random], Doc]


def policy_docs(w: World, lang: str, orgs: list[Org], kinds: list[PolicyKind]) -> list[Doc]:
    """Every kind for every organisation; each organisation has two kinds in
    two editions, a different pair for each organisation."""
    docs = []
    for i, org in enumerate(orgs):
        twice = {kinds[(2 * i) % len(kinds)].name, kinds[(2 * i + 1) % len(kinds)].name}
        for kind in kinds:
            family = f"{lang}-{kind.name}-{org.short}"
            decoy = f"{lang}-quick-{org.short}"  # see quick_answers.py
            values = {key: draw(w.rng) for key, draw in kind.spec.items()} | kind.fixed(w)
            if kind.name not in twice:
                doc = kind.write(org, values, None, w.sub(family))
                doc.decoys.append(decoy)
                docs.append(doc)
                continue
            revised, changed = _revise(w.rng, kind, values)
            for year, edition in ((2023, values), (2024, revised)):
                doc = kind.write(org, edition, year, w.sub(family))
                doc.drafts = [d for d in doc.drafts if d.fact in changed]
                doc.decoys.append(decoy)
                docs.append(doc)
    return docs


def _revise(rng: random.Random, kind: PolicyKind, values: dict) -> tuple[dict, set[str]]:
    revised = dict(values)
    changed = set(rng.sample(sorted(kind.spec), CHANGES_PER_EDITION))
    for key in sorted(changed):
        while revised[key] == values[key]:
            revised[key] = kind.spec[key](rng)
    return revised, changed

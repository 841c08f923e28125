"""The templates of the knowledge-base benchmark corpus: one module per kind
of document, each with a `build(world) -> list[Doc]`."""

from . import contracts, faq, minutes, notices, policies_en, policies_zh, procedures, quick_answers, regulations, specs

KINDS = [policies_en, policies_zh, contracts, specs, minutes, procedures, faq, quick_answers, regulations, notices]

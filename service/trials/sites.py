"""The tumour site a trial is for, read from its conditions and title (issue 14): pure.

Split from ``criteria`` (which reads HER2 wording): the words that name breast, the
stomach and gastro-oesophageal junction, and other organs.

The reading is conservative.  A study is matched on a patient's result only for the
site it names; a study that names another organ, or whose conditions name anything
this module cannot place (an organ missing from the lists below, a histology), is
left for review: never a candidate on a breast or gastric result.  Only conditions
made of generic words alone ("HER2-positive Solid Tumors", "Advanced Cancer") make
an organ-less basket study, matched on the patient's one result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from service.her2 import Site

# "Gastrointestinal" (GIST, "GI cancers", colorectal included) and "gastroenteropancreatic"
# (neuroendocrine) name more than the stomach and oesophagus: they are another site below,
# never read as gastroesophageal, so a gastric result is not matched to them unreviewed.
_NOT_GASTRIC = r"o-?\s?(?:intestin|entero)"
# "Junction" only as the GE junction: "in conjunction with" names no site.
_GASTRO = re.compile(
    rf"gastr(?!{_NOT_GASTRIC})|esophag|oesophag|\bgej\b|\bgoj\b|\bg-?e junction\b|stomach|"
    r"\bcardia\b"
)
# Not "breastfeeding", which nearly every eligibility text names.
_BREAST = re.compile(r"breast(?![- ]?feed)|mammary")
_SITE_WORD = r"(?:breast|mammary|gastr|stomach|esophag|oesophag)"
# A site named to deny it ("Non-Breast Solid Tumors", "other than breast cancer"): the
# text names no site of its own, and the study is not for the patient's site unreviewed.
_SITE_DENIED = re.compile(
    rf"\b(?:non|other than|except(?:ing)?|excluding|apart from|besides|not|no)\W{{0,3}}"
    rf"(?:[a-z]+\W+){{0,2}}?{_SITE_WORD}"
)
# Tumour sites other than breast and gastroesophageal, as study conditions and titles
# name them.
_OTHER_SITE = re.compile(
    r"colo(?:n|rectal)|rect(?:al|um)|\blung|nsclc|bladder|urothelial|biliary|bile duct|"
    r"cholangio|gallbladder|ampull|small (?:intestin|bowel)|duoden|appendi|\banal\b|\banus\b|"
    r"endometri|uter(?:ine|us)|ovar(?:y|ian)|cervi(?:x|cal)|vulv|vagin|pancrea|prostat|"
    r"testi(?:s|cular)|germ cell|penile|salivary|head and neck|\boral\b|pharyn|laryn|"
    r"hepatocellular|\bliver|kidney|\brenal|adrenal|thym|peritone|mesothelioma|melanoma|"
    r"\bskin\b|uveal|ocular|glioma|gliobl|neuroblastoma|\bbrain|\bcns\b|spinal|sarcoma|"
    r"\bbone|thyroid|neuroendocrine|carcinoid|lymphoma|leuka?emia|myeloma|"
    rf"gastr{_NOT_GASTRIC}|\bgist\b|\bgi\b"
)
# The words of a condition that name no organ: HER2 wording, "solid tumours", stage and
# extent.  A condition with any other word of three letters or more names something.
_GENERIC = re.compile(
    r"\b(?:her2|her-2|erbb2|erbb-2|neu|positive|negative|low|ultralow|null|zero|"
    r"(?:over-?)?express\w*|amplifi\w*|alter\w*|mutat\w*|mutant|harbou?ring|"
    r"solid|tumou?rs?|cancers?|neoplasms?|neoplasia|carcinomas?|adenocarcinomas?|"
    r"malignan\w*|metasta\w*|advanced|unresectable|inoperable|locally|recurrent|"
    r"refractory|relapsed|stage|disease|diseases|unknown|primary|origin|adults?|human|"
    r"any|other|and|with|the|nos|not|otherwise|specified|gene|genes|protein)\b"
)
_WORD = re.compile(r"[a-z]{3,}")


def site_named(text: str) -> Site | None:
    """The site a text names: gastroesophageal, breast, or None (neither or both)."""
    lowered = text.lower()
    if _SITE_DENIED.search(lowered):
        return None
    gastro, breast = bool(_GASTRO.search(lowered)), bool(_BREAST.search(lowered))
    if gastro == breast:
        return None
    return Site.GASTROESOPHAGEAL if gastro else Site.BREAST


def names_other_site(text: str) -> bool:
    """Whether a text names a tumour site other than breast and gastroesophageal."""
    return bool(_OTHER_SITE.search(text.lower()))


def names_something_unplaced(condition: str) -> bool:
    """Whether a condition names more than HER2 wording and a generic tumour.

    "HER2-positive Solid Tumors" names nothing else; "Ampullary Carcinoma",
    "Carcinoma, Ductal" or an organ missing from the lists name something this module
    cannot place, so the study is not taken for an organ-less basket.
    """
    return bool(_WORD.search(_GENERIC.sub(" ", condition.lower())))


def other_site(conditions: Iterable[str], title: str) -> bool:
    """Whether a study of neither breast nor gastric site is for something else.

    True when its conditions or title name another organ or deny a site ("Non-Breast
    Solid Tumors"), or any condition names something that is not a generic tumour (see
    ``names_something_unplaced``).
    """
    conditions = list(conditions)
    joined = " ".join((*conditions, title))
    if names_other_site(joined) or _SITE_DENIED.search(joined.lower()):
        return True
    return any(names_something_unplaced(c) for c in conditions)


def names_a_site(text: str) -> bool:
    """Whether a text names breast or the stomach/GE junction at all (even to deny it)."""
    lowered = text.lower()
    return bool(_GASTRO.search(lowered) or _BREAST.search(lowered))


__all__ = [
    "names_a_site",
    "names_other_site",
    "names_something_unplaced",
    "other_site",
    "site_named",
]

"""Host names written without a scheme (``shop.example.co.uk/returns``): is this a web address?

A bare ``word.word`` is a link only when its host ends in a real public suffix, read from the
Public Suffix List snapshot that ships inside the ``publicsuffixlist`` package (ICANN section;
nothing is downloaded).  Even then some shapes are far more often something else:

- the suffix written in capitals or title case (``end.Next``, ``Socket.IO``, ``ASP.NET``):
  two words run together at a sentence end, or a product name;
- ``name.ext`` with no path where the suffix is also a common file extension (``notes.md``,
  ``setup.py``, ``archive.zip``, ``logo.ai``);
- ``word.tld`` with no path whose first part is a short function word (``it.so``, ``fine.it``
  is kept): two words run together; or a single letter (``s.com``, the Spanish company form
  "S.Com." in lower case; ``x.com/help`` is kept);

- two number parts in a row (``2.5.app``): a version;
- a Usenet hierarchy first (``alt.animals.cat``): a newsgroup, seen in forum text.

File names whose extension is not a suffix (``report.pdf``), versions (``v4.10``) and
abbreviations (``e.g.``) never get this far: no public suffix.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

from publicsuffixlist import PublicSuffixList

# "pl" (Perl) is left out: Polish shops are far more common in customer messages than Perl scripts.
FILE_EXTENSION_SUFFIXES = frozenset("ai cc java map md ml mobi mov pm ps pub py rs sh so zip".split())
_USENET_HIERARCHIES = frozenset("alt comp rec sci soc talk misc".split())  # alt.animals.cat is a newsgroup
_JOINED_WORDS = frozenset(
    "a i it is so to me my no at be by do go am as an in on or us we he ok the and but yes "
    "this that then than thanks please done now also".split()
)


@lru_cache(maxsize=1)
def public_suffixes() -> PublicSuffixList:
    """The bundled list, loaded once (``publicsuffixlist`` reads its own data file, never the network)."""
    return PublicSuffixList(only_icann=True)


def bare_host_is_web_address(host: str, *, has_path: bool) -> bool:
    """``host`` as written (case kept), without scheme; ``has_path``: a ``/``, ``?`` or ``#`` follows it."""
    lowered = host.lower()
    suffix = public_suffixes().publicsuffix(lowered, accept_unknown=False)
    if not suffix or suffix == lowered:
        return False
    if not host[-len(suffix) :].islower():
        return False
    labels = lowered.split(".")
    if any(a.isdigit() and b.isdigit() for a, b in pairwise(labels)):
        return False  # a version number before a word ("2.5.app"); "163.com" is kept
    if labels[0] in _USENET_HIERARCHIES and len(labels) > 2 and not has_path:
        return False
    if has_path or len(labels) > 2:
        return True
    return suffix not in FILE_EXTENSION_SUFFIXES and labels[0] not in _JOINED_WORDS and len(labels[0]) > 1

"""CSV read by the native core: which CSV inputs it reads itself, and the spec it reads them with.

The core reads the rows of a CSV file and builds their events itself (no Python object per row, see
``native/core/src/csv``) when both of these hold, decided here and nowhere else (:func:`native_csv`):

* the file's mapping is one the core applies exactly as :meth:`Mapping.apply
  <sopengine.adapters.mapping.Mapping.apply>` does (:func:`sopengine.adapters.native_xes.mapping_spec`: one
  source without ``match`` columns or ``kind``, its first rule without ``when`` or ``skip``, values that are
  field paths or constants, no identities in use, no --time-format or --timezone), reading records
  (``reader`` unset). The default ``columns`` mapping is one. A case-insensitive mapping (``columns`` is) is
  taken too: the header is spelt here, by :meth:`Mapping.spelt <sopengine.adapters.mapping.Mapping.spelt>`
  (Python's own lower-casing), and the core keys each row by that spelling of its column;
* the file is UTF-8 (a UTF-8 byte-order mark or none; no --encoding), is not stdin, and its header reads
  (:func:`sopengine.adapters.readers.csv_head`: what comes before the rows, an Excel ``sep=`` line and the
  header, is read here by the Python reader's own code, so its delimiter, its names and where the rows start
  are the Python reader's); the delimiter is one of , ; TAB | (sniffed, given or from ``sep=``).

The core then reads the rows as the csv module (strict, Excel dialect) reads the lines ``read_csv`` hands it:
the module's state machine, a line (to a newline byte) at a time, a row's line where it starts, a line that is
not UTF-8 decoded with replacement and its row rejected, a field bounded in characters by line-bytes, the rest
of a line dropped where a row is malformed. The csv crate is not used for this: it has no strict mode (text
after a closing quote is kept, not refused), ends a row at a lone carriage return where the csv module refuses
it, and knows no field limit, so that every row would have to be scanned by the csv module's rules anyway.
Where a row is malformed the core says which of the module's faults it is, and the module words it
(:func:`sopengine.adapters.readers.csv_malformed_reason` shows the module a row with that fault); a quote that
is never closed past the row's first line stops the reading with the reader's own :class:`InputError`.

Any other CSV input keeps the Python reader (:func:`sopengine.adapters.readers.read_csv` and
:func:`sopengine.adapters.read_inputs`), unchanged: another encoding (--encoding, a UTF-16 byte-order mark),
stdin, a header that does not read (the Python reader refuses it in its words), a mapping with an
expression, a ``when``, a lookup, a merge, several sources or identities, a time format or zone. Both ways
give the same events, rejections (reasons and lines), skipped rows, warnings and counts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .mapping import Mapping
from .native_xes import NativeMapping, mapping_spec
from .readers import DELIMITERS, csv_head

if TYPE_CHECKING:
    from ..model import Pack
    from . import InputSpec


def native_csv(path: str, mapping: Mapping | None, spec: "InputSpec", pack: "Pack") -> NativeMapping | None:
    """The spec the core reads the CSV file ``path`` with, or None when the Python reader must read it (the
    module's docstring says when)."""
    if mapping is None or mapping.reader != "records" or spec.encoding is not None or path == "-":
        return None
    base = mapping_spec(mapping, pack, ())
    if base is None:
        return None
    head = csv_head(path, spec.limits, spec.csv_delimiter)
    if head is None or head.delimiter not in DELIMITERS:
        return None
    base["csv"] = {"delimiter": head.delimiter, "header": [mapping.spelt(name) for name in head.header],
                   "skip": head.lines, "field_limit": spec.limits.line_bytes}
    return NativeMapping(json.dumps(base, ensure_ascii=False, allow_nan=False), base["source"])

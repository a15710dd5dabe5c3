"""A realistic sample MSP with an answer key: the demo data set, the test oracle and the benchmark input.

``generate_sample`` makes the files in memory, ``write_sample`` writes them with their answer key and README
(``recon sample``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.sample.generator import (
        ANSWER_KEY_COLUMNS as ANSWER_KEY_COLUMNS,
    )
    from recon.sample.generator import (
        PSA_EXPORT_FILES as PSA_EXPORT_FILES,
    )
    from recon.sample.generator import (
        SOURCE_FILES as SOURCE_FILES,
    )
    from recon.sample.generator import (
        TYPES as TYPES,
    )
    from recon.sample.generator import (
        UNMAPPED_COLUMNS as UNMAPPED_COLUMNS,
    )
    from recon.sample.generator import (
        VENDOR_FILES as VENDOR_FILES,
    )
    from recon.sample.generator import (
        SampleMSP as SampleMSP,
    )
    from recon.sample.generator import (
        generate_sample as generate_sample,
    )
    from recon.sample.generator import (
        write_sample as write_sample,
    )

_EXPORTS = {
    "ANSWER_KEY_COLUMNS": "recon.sample.generator",
    "PSA_EXPORT_FILES": "recon.sample.generator",
    "SOURCE_FILES": "recon.sample.generator",
    "SampleMSP": "recon.sample.generator",
    "TYPES": "recon.sample.generator",
    "UNMAPPED_COLUMNS": "recon.sample.generator",
    "VENDOR_FILES": "recon.sample.generator",
    "generate_sample": "recon.sample.generator",
    "write_sample": "recon.sample.generator",
}
__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)

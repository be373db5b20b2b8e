"""The live camera loop (`edgedigits webcam`): sources (camera, video, images), the loop, the window.

The reader itself lives in edgedigits.runtime.reading; its names are also reachable here (`webcam.load_reader`,
`webcam.as_text`, ...), as they were before the reader had a package of its own.
"""

from edgedigits.runtime.reading.output import as_record, as_text, draw
from edgedigits.runtime.reading.predict import predict
from edgedigits.runtime.reading.reader import DEFAULT_THRESHOLD, TOUCHING, Digit, Reader, load_reader
from edgedigits.runtime.webcam.loop import Stats, live, run
from edgedigits.runtime.webcam.sources import Source, open_source

__all__ = ["DEFAULT_THRESHOLD", "TOUCHING", "Digit", "Reader", "Source", "Stats", "as_record", "as_text", "draw",
           "live", "load_reader", "open_source", "predict", "run"]

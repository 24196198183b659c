"""LSC-1, the LiveSense speech codec: 16 kHz speech <-> 4 discrete ids per 40 ms frame.

See :mod:`livesense.codec.contract` for the frame contract and :mod:`livesense.codec.codec`
for the API (:class:`LSC1Codec`, :class:`StreamingEncoder`, :class:`StreamingDecoder`).
"""

from livesense.codec.codec import LSC1Codec, StreamingDecoder, StreamingEncoder
from livesense.codec.contract import CODEC_NAME, CODEC_VERSION, CONTRACT, FrameContract

__all__ = ["CODEC_NAME", "CODEC_VERSION", "CONTRACT", "FrameContract", "LSC1Codec",
           "StreamingDecoder", "StreamingEncoder"]

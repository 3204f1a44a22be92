"""Every limit of the Claude API that vision-cli relies on, in one place.

Sources: the Claude vision guide and the seed guide (see ``shared/spec/claude-vision.md``), read in
November 2026. Prices and per-model facts live in ``data/models.json``; this module holds the
numbers that do not depend on the model. Nothing here imports anything heavier than the standard
library.
"""

from __future__ import annotations

from typing import Final

SOURCE: Final = "Claude vision guide (platform.claude.com/docs) and the seed guide, read 2026-11"

#: Pillow format name -> media type, for the formats the API accepts (JPEG, PNG, GIF, WebP).
FORMAT_MEDIA_TYPES: Final = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # multi-picture JPEG (phone photos): its first image is a plain JPEG
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}

#: Width or height above this is rejected by the API (not resized).
MAX_DIMENSION: Final = 8000
#: With more than ``MANY_IMAGES_THRESHOLD`` images in one request, this is the dimension limit.
MANY_IMAGES_MAX_DIMENSION: Final = 2000
MANY_IMAGES_THRESHOLD: Final = 20

#: Per-image byte limit, measured on the base64 string. 5 MB holds on every platform (direct API,
#: Bedrock, Vertex AI); the direct API accepts 10 MB (``--max-bytes 10MB``).
DEFAULT_MAX_BYTES: Final = 5 * 1024 * 1024
DIRECT_API_MAX_BYTES: Final = 10 * 1024 * 1024
#: Whole request body limits.
MESSAGES_REQUEST_MAX_BYTES: Final = 32 * 1024 * 1024
BATCH_MAX_BYTES: Final = 256 * 1024 * 1024
BATCH_MAX_REQUESTS: Final = 100_000

#: The most bytes vision-cli reads from one input of any kind (a file, a pipe or device, standard
#: input, a download), in every command: enough for a 200-megapixel original, and a bound on memory.
MAX_INPUT_BYTES: Final = 256 * 1024 * 1024
#: The most bytes vision-cli reads back from a results file (``--output`` of ``ask --each``,
#: ``ask --batch`` and ``locate``, the file ``results`` reads) or from the batch state file beside
#: it: about a million short answers, several times the 100,000 requests of a full batch (a
#: results file can outgrow :data:`MAX_INPUT_BYTES`), and a bound on memory (``results`` holds
#: every line).
MAX_RESULTS_BYTES: Final = 1024 * 1024 * 1024
#: The most one results line may say its request cost, in USD: thousands of times what the
#: largest request to the dearest model costs (a million tokens in, the most out), so only a
#: line edited by hand or damaged is over it; and a bound that keeps a file's total finite.
MAX_LINE_COST_USD: Final = 1_000_000.0
#: The longest entry of a ``--files-from`` list, in bytes: far beyond any path a system takes
#: (``PATH_MAX`` is 4,096 on Linux, 1,024 on macOS), and a bound on memory when no separator
#: ever comes (``--files-from /dev/zero``). The list itself is read as it arrives, however long.
MAX_LIST_ENTRY_BYTES: Final = 64 * 1024
#: The most pixels one decode may allocate (Pillow's own default bomb threshold). What a decoder
#: really allocates is what counts: a baseline JPEG can decode at 1/8 scale, a progressive one
#: holds full-size coefficient buffers (once more for every :data:`SCANS_PER_DECODE` scans); a
#: decoder written in Python counts each pixel 64 times (``imaging.probe.SLOW_DECODER_COST``).
#: Over it, an image is never decoded, by any command.
PIXEL_BUDGET: Final = 89_478_485
#: A progressive JPEG's decoder passes over the whole image once for each scan. libjpeg writes
#: 10 scans and real files rarely hold more than a few dozen, but the format allows thousands in
#: a few hundred kilobytes (libjpeg-turbo's "LJT-01-003": a 591 KB file of 20,010 scans over
#: 4000x3000 took 173 s to decode here). Every this many scans count the pixels once against
#: the budget, so one decode stays within seconds.
SCANS_PER_DECODE: Final = 64

#: Images under this many pixels on an edge may degrade accuracy.
MIN_USEFUL_DIMENSION: Final = 200

#: The current (patch) token rule: an image costs ceil(w/28) * ceil(h/28) tokens.
PATCH_SIZE: Final = 28

#: Resize tiers of the current rule: (long edge at most, tokens at most).
TIERS: Final = {
    "standard": (1568, 1568),
    "high-res": (2576, 4784),
}

#: The seed's (legacy) rule: tokens ~= w * h / 750, downscaled above 1568 px or about 1,600 tokens.
LEGACY_PIXELS_PER_TOKEN: Final = 750
LEGACY_MAX_EDGE: Final = 1568
LEGACY_MAX_TOKENS: Final = 1600

#: The seed's recommendation for time-to-first-token: at most 1568 px per edge and 1.15 megapixels.
RECOMMENDED_MAX_EDGE: Final = 1568
RECOMMENDED_MAX_PIXELS: Final = 1_150_000

#: Files API uploads: ``expires_in_seconds`` bounds, and what vision-cli asks for by default.
FILE_MIN_EXPIRY_SECONDS: Final = 3_600
FILE_MAX_EXPIRY_SECONDS: Final = 7_776_000
FILE_DEFAULT_EXPIRY_SECONDS: Final = 7 * 24 * 3_600
#: ``files.list(ids=...)`` takes at most this many ids per call.
FILE_LIST_MAX_IDS: Final = 100

#: Message Batches: 50% off input and output.
BATCH_DISCOUNT: Final = 0.5

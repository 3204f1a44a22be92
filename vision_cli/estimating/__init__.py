"""The core of ``estimate``: tokens and dollars per image, per model, before anything is sent.

Pure except for :func:`~.counting.materialize` (which reads URL and standard-input images into
files so the exact count can send the same bytes that were checked) and
:func:`~.counting.count_exact` (which runs a counting function over threads). The arithmetic is
deliberately simple so that it can be pinned down by property tests: an image's cost for a model is

    (tokens x input price + output tokens x output price) / 1,000,000 x (0.5 with --batch)

with each image taken as its own request, and the "per N" figure is that cost times N.

This ``__init__`` imports nothing. The modules:

- :mod:`.choosing`: which models are priced, and at what price (``--model``, ``--price``).
- :mod:`.costing`: the :class:`~.costing.EstimatePlan` and one :class:`~.costing.EstimateRow`
  per image (from a gate record or a ``--size``).
- :mod:`.tallying`: the :class:`~.tallying.EstimateTotals` over all rows.
- :mod:`.counting`: ``--exact``: the API's own count of the same bytes.
- :mod:`.trimming`: ``--trim``: each image decoded to find the borders ``resize --trim`` cuts.
"""

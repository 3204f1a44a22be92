"""The core of ``ask`` and ``compare`` (and the pieces ``ask --each`` and ``ask --batch`` reuse).

Inputs in, frozen results out, nothing printed. This ``__init__`` imports nothing; the modules, in
the order a request goes through them:

- :mod:`.preparing`: :class:`~.preparing.Settings` (what is the same for every image), the default
  prompts, the ``--source`` checks, :class:`~.preparing.PreflightError`.
- :mod:`.fitting`: :func:`~.fitting.preflight` turns inputs into :class:`~.fitting.Image` objects
  ready to send (read, oriented, resized, converted, tiled, fitted under the byte limit).
- :mod:`.conversations`: load, check, fit and save a conversation that ``--continue`` resumes.
- :mod:`.building`: :func:`~.building.build_request` assembles the exact body as a
  :class:`~.building.Request`; :func:`~.building.check_request` applies request-level limits.
- :mod:`.pricing`: :func:`~.pricing.estimate` and :func:`~.pricing.cost_usd`.
- :mod:`.answering`: the :class:`~.answering.Answer` to a reply, checked against ``--schema``.
- :mod:`.running`: send a request, upload what ``--source file`` needs (once), and correct an
  image the API finds too large.
"""

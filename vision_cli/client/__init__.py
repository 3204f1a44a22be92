"""Everything that talks to the Claude API, through the official ``anthropic`` SDK.

The only package that imports ``anthropic``, and only inside the functions that send: the SDK takes
over a second to import, and ``inspect``, ``resize`` and ``--help`` never need it. This ``__init__``
imports nothing; callers import the module they need:

- :mod:`.bodies`: request building (pure, plain dicts, no SDK): image blocks, turns, the body.
- :mod:`.keys`: the API key and base URL from the environment, and redaction of the key.
- :mod:`.failures`: :class:`~.failures.SetupError` and :class:`~.failures.APIFailure`, the one-line
  form of every SDK exception.
- :mod:`.connect`: the checks made before sending and :func:`~.connect.make_client`.
- :mod:`.messages`: sending a message (streamed or not), counting tokens, listing models.
- :mod:`.batches`: Message Batches.
- :mod:`.filesapi`: the Files API and the upload cache.
"""

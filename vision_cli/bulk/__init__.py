"""Whole folders through Claude, one request per image: ``ask --each``, ``ask --batch`` and
``locate`` over many images.

The request of each image is built by :mod:`vision_cli.asking` exactly as ``ask`` builds it for
one image; this package adds what many images need, one module each:

- :mod:`.records`: the one results record (its members, the writers, the readers, the resume
  key);
- :mod:`.log`: the locked, append-only results file (JSONL) or standard output;
- :mod:`.plan`: the run's settings, inputs read and hashed, what is answered already set aside,
  each request prepared, and the dry run;
- :mod:`.limiter`: adaptive concurrency (AIMD) as SDK middleware;
- :mod:`.summary`: what a run did, and its progress as it goes;
- :mod:`.each`: ``--each``, ``--jobs`` threads sharing one client;
- :mod:`.state` and :mod:`.batch`: ``--batch``, the state file beside the results and the run.

No output of its own: progress goes to a callback, notes to another, and the CLI renders them.
Nothing is imported here, so a command pays only for the modules it uses.
"""

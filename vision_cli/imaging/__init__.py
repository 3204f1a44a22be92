"""Everything that touches Pillow, behind one gate.

- :mod:`.probe`: the one reader. Opens an input with Pillow restricted to
  :data:`.probe.READ_FORMATS` (so no external program ever runs), reads its header, orientation,
  frames and end, and keeps every decode under one pixel budget.
- :mod:`.preflight`: probe + :mod:`vision_cli.policy` -> findings. The gate every command calls.
- :mod:`.transform`: decode, orient, resize, encode and fit the bytes, starting from a probe.
- :mod:`.jpegscale`: reduced-scale JPEG decoding (3/8).
"""

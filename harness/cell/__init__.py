"""Test-cell backends: the radio side of a run (a software-defined cell, a callbox).

`model` is what every backend is told and reports; `osmocom` runs a real GSM network from
Debian's packages; `amarisoft` and `callbox` drive a lab's commercial cell. The GSM codecs
(`gsmtap`, `lapdm`, `l3`) and the radio monitor serve the Osmocom backend's evidence and the
reference device's emulated module.
"""

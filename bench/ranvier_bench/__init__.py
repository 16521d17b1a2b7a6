"""ranvier's benchmark suite: ranvier and Synapse side by side, through the Client-Server API.

Theory of operation
-------------------
``bench/run`` calls :func:`ranvier_bench.cli.main`. For each repeat, each server is started
fresh on loopback with equivalent settings (:mod:`.servers`), sampled from ``/proc``
(:mod:`.procstats`) and driven by an aiohttp client (:mod:`.client`, :mod:`.load`) through the
scenarios (:mod:`.scenarios`, one module each). Every answer is checked; wrong answers fail the
scenario instead of producing a number. Runs alternate between the servers; medians of the
repeats (:mod:`.results`) make the table (:mod:`.report`), and the raw runs with the machine
and software versions (:mod:`.machine`) go to ``bench/results/<date>-<gitrev>.json``.
"""

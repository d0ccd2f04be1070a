"""Local stand-ins for the payment providers' APIs, served over real HTTP on 127.0.0.1.

One module per provider, each a `Simulator` (see `base`) holding that provider's state. The test
suite runs them in threads (`tests/simulators/fixtures.py`); `python -m simulators` runs them as
one process for the offline demo (`make run`). They are development tools: nothing in the
product imports them.
"""

"""Local stand-ins for the payment providers' APIs, served over real HTTP on 127.0.0.1.

One module per provider, each a `Simulator` (see `base`) holding that provider's state; the
pytest fixtures that run them are in `fixtures`.
"""

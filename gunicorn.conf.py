"""gunicorn settings of the web app; gunicorn reads ./gunicorn.conf.py by itself when started from here.

Command-line flags still win (the README's `gunicorn config.wsgi -b … -w 4`, bench/intake.py).
"""

import gc


def post_worker_init(worker) -> None:
    """Freeze what start-up loaded (Django, DRF, the app's modules and settings) out of the cyclic collector.

    A worker holds ~120 000 such objects. Every full collection walked all of them: about 150 ms on the
    2-core machine, a stall for every request queued on that worker. Frozen, a full collection walks only
    what requests created (25 ms). Those objects live as long as the process anyway.
    """
    gc.freeze()

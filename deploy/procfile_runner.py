"""`make up`'s process runner: honcho (a Python Foreman) running deploy/Procfile, with a clean stop.

On Ctrl+C (or SIGTERM) honcho signals every process and waits. Two changes to honcho's stop, both for the
Celery workers to finish the task they are running:
- SIGTERM goes to each process only, not to its process group. Celery's pool children take SIGTERM as
  "die now"; the worker's parent, told SIGTERM, stops taking messages and waits for its children to finish
  their current task (a warm shutdown), as gunicorn's master waits for its requests.
- the wait before SIGKILL (honcho's is 5 s) is STOP_GRACE_SECONDS (default 60): longer than a task's
  usual run, shorter than its hard time limit.

Usage: python deploy/procfile_runner.py [honcho start arguments] — the Makefile passes `-f deploy/Procfile`.
"""

import os
import signal
import sys


def main(argv: list[str]) -> None:
    from honcho import command, manager

    class GracefulProcessManager(manager.ProcessManager):
        def terminate(self, pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    manager.KILL_WAIT = float(os.environ.get("STOP_GRACE_SECONDS", "60"))
    manager.ProcessManager = GracefulProcessManager
    os.makedirs(os.environ.get("STATE_DIR", "var"), exist_ok=True)
    command.main(["start", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])

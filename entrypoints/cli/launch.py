"""The `jejak` script: the CLI, with what fails while its modules load (an era file that cannot be loaded, from
JEJAK_ERAS_DIR) reported as every refusal is, one `jejak: error: …` line, not a traceback."""

from __future__ import annotations

import sys

from workflow.errors import JejakError


def main() -> int:
    try:
        from entrypoints.cli.main import main as run
    except JejakError as error:
        print(f"jejak: error: {error}", file=sys.stderr)
        return error.exit_code
    return run()


if __name__ == "__main__":
    sys.exit(main())

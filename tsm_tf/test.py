"""``python -m tsm_tf.test``: evaluate a model (see ``tsm_tf.evaluate.cli`` for the options)."""

import sys

from tsm_tf.evaluate.cli import main

if __name__ == "__main__":
    sys.exit(main())

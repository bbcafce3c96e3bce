"""``python -m tsm_tf.train``: see ``python -m tsm_tf.train --help``."""

import sys

from tsm_tf.train.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m brian_noisy_rnn``: the command line."""

import sys

from .cli import main

sys.exit(main())

"""`python -m linrep_edge ...` (also under torchrun: `torchrun --nproc-per-node N -m linrep_edge finetune ...`)."""

import sys

from linrep_edge.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

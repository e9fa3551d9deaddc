"""`python -m linrep_edge.cli ...`"""

import sys

from linrep_edge.cli.main import main

sys.exit(main())

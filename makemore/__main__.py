import sys

from makemore.cli import main

sys.exit(main())

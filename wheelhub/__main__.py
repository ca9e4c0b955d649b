import sys

from wheelhub.cli import main

sys.exit(main())

import sys

from obelisk_cli.main import main

sys.exit(main())

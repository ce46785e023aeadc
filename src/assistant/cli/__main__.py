import sys

from assistant.cli.entry import main

sys.exit(main())
